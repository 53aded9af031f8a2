"""A small log built in memory with the pure core, for offline verifier tests (no server involved)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from lnx_client import build_pre_launch, circle_area, sign_document, vehicle
from lnx_client.core import merkle, note
from lnx_client.core.checkpoint import Checkpoint
from lnx_client.core.entry import entry_bytes, format_integrated_time
from lnx_client.core.jwk import generate_private_jwk, public_jwk_from_private
from lnx_client.core.tlogproof import format_tlog_proof

ORIGIN = "lnx.test/log"
T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def payload(issuer: str, serial: int) -> dict[str, Any]:
    return build_pre_launch(
        id=f"{issuer}-2026-{serial:04d}",
        issuer=issuer,
        regime="hcoc",
        vehicle=vehicle("space-launch-vehicle", "SLV"),
        window_start=T0 + timedelta(days=10),
        window_end=T0 + timedelta(days=12),
        launch_area=circle_area(80.23, 13.72, 5, "Sriharikota"),
        azimuth_deg=135,
        impact_areas=[circle_area(86.0, 8.0, 50)],
        issued_at=T0,
    )


@dataclass
class OfflineLog:
    """``size`` documents by IND, logged one minute apart, with a signed checkpoint at each size."""

    size: int
    log_signer: note.Signer = field(init=False)
    private_jwk: dict[str, Any] = field(init=False)
    jws: list[str] = field(init=False)
    times: list[datetime] = field(init=False)
    nodes: dict[merkle.NodeID, bytes] = field(init=False)
    hashes: list[bytes] = field(init=False)

    def __post_init__(self) -> None:
        self.log_signer = note.Signer(ORIGIN, Ed25519PrivateKey.generate())
        self.private_jwk = generate_private_jwk("Ed25519")
        self.jws = [sign_document(payload("IND", i + 1), self.private_jwk) for i in range(self.size)]
        self.times = [T0 + timedelta(minutes=i + 1) for i in range(self.size)]
        self.hashes = [merkle.leaf_hash(entry_bytes(j, t)) for j, t in zip(self.jws, self.times, strict=True)]
        rng = merkle.CompactRange()
        self.nodes = dict(rng.extend(self.hashes))

    @property
    def vkey(self) -> str:
        return self.log_signer.vkey

    def get_nodes(self, ids: Any) -> list[bytes]:
        return [self.nodes[i] for i in ids]

    def checkpoint(self, size: int | None = None) -> str:
        size = self.size if size is None else size
        root = merkle.root_from_leaf_hashes(self.hashes[:size])
        return note.sign_note(Checkpoint(ORIGIN, size, root).to_text(), self.log_signer)

    def receipt(self, index: int) -> dict[str, Any]:
        proof = merkle.inclusion_proof(index, self.size, self.get_nodes)
        return {
            "id": f"IND-2026-{index + 1:04d}",
            "type": "pre-launch",
            "issuer": "IND",
            "log_index": index,
            "leaf_hash": self.hashes[index].hex(),
            "integrated_time": format_integrated_time(self.times[index]),
            "findings": [],
            "proof": format_tlog_proof(index, proof, self.checkpoint()),
        }

    def consistency(self, first: int, second: int) -> list[str]:
        return [base64.b64encode(h).decode() for h in merkle.consistency_proof(first, second, self.get_nodes)]

    def jwks(self, **times: datetime | None) -> dict[str, Any]:
        """The issuer's JWKS as the server publishes it, with the given validity times."""
        key = public_jwk_from_private(self.private_jwk)
        entry: dict[str, Any] = {**key, "use": "sig", "alg": "Ed25519", "status": "active"}
        entry["not_before"] = format_integrated_time(times.get("not_before") or T0 - timedelta(days=30))
        for name in ("not_after", "revoked_at"):
            value = times.get(name)
            entry[name] = format_integrated_time(value) if value else None
        return {"keys": [entry]}
