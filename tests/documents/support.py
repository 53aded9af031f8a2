"""Helpers for the HTTP tests of documents: raw JWS crafting, problem checks, "nothing stored" checks.

Payload builders live in :mod:`tests.documents.builders`; this module adds what the submission
tests need beyond them: tokens with arbitrary headers or payload bytes (to exercise every refusal
with a *valid* signature, so that each test fails for the one reason it names), and a snapshot of
what the exchange holds.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lnx_client.core import jwk as core_jwk
from lnx_client.core.jwk import b64url_decode, b64url_encode
from lnx_client.core.tlogproof import parse_tlog_proof

from app.errors import PROBLEM_TYPE_BASE

JOSE = {"content-type": "application/jose"}


def compact_json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def craft(
    private_jwk: Mapping[str, Any],
    payload: Mapping[str, Any] | bytes,
    *,
    header: Mapping[str, Any] | bytes | None = None,
    kid: str | None = None,
    alg: str = "Ed25519",
) -> str:
    """A compact JWS with exactly the given header/payload bytes, validly signed by ``private_jwk``."""
    key = core_jwk.load_private_jwk(private_jwk)
    if header is None:
        header = {"alg": alg, "kid": kid or key.kid, "typ": "lnx+json"}
    header_bytes = header if isinstance(header, bytes) else compact_json(header)
    payload_bytes = payload if isinstance(payload, bytes) else compact_json(payload)
    signing_input = f"{b64url_encode(header_bytes)}.{b64url_encode(payload_bytes)}"
    return f"{signing_input}.{b64url_encode(key.sign(signing_input.encode('ascii')))}"


def flip_signature_bit(token: str) -> str:
    head, body, signature = token.split(".")
    raw = bytearray(b64url_decode(signature))
    raw[10] ^= 0x01
    return f"{head}.{body}.{b64url_encode(bytes(raw))}"


def post_jws(client: Any, actor: Any, token: str | bytes, **headers: str) -> Any:
    return client.post("/v1/documents", content=token, headers={**actor.headers, **JOSE, **headers})


def assert_problem(response: Any, status: int, code: str, pointer: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status and type; ``pointer`` is among its errors."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status
    assert problem["type"] == PROBLEM_TYPE_BASE + code, problem
    if pointer is not None:
        pointers = [e["pointer"] for e in problem.get("errors", [])]
        assert pointer in pointers, problem
    return problem


def checkpoint_size(client: Any) -> int:
    response = client.get("/v1/log/checkpoint")
    assert response.status_code == 200, response.text
    return int(response.text.split("\n")[1])


def visible_ids(client: Any, actor: Any, **params: Any) -> list[str]:
    """Every document id ``actor`` may list (all pages)."""
    ids: list[str] = []
    query: dict[str, Any] = {"page_size": 1000, **params}
    while True:
        response = client.get("/v1/documents", params=query, headers=actor.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        ids.extend(d["id"] for d in body["documents"])
        if not body["next_page_token"]:
            return ids
        query["page_token"] = body["next_page_token"]


@dataclass
class Snapshot:
    """What the exchange holds, as an auditor (who lists every document's metadata) sees it."""

    documents: list[str]
    log_size: int

    @classmethod
    def take(cls, client: Any, auditor: Any) -> Snapshot:
        return cls(visible_ids(client, auditor), checkpoint_size(client))


GAP_S = 0.08
"""How far apart ``send_in_order`` sends (tests that need one batch widen its window well beyond)."""


def send_in_order(world: Any, submissions: list[tuple[Any, str]]) -> list[Any]:
    """POST each (actor, JWS) from its own thread, ``GAP_S`` apart; the responses in the same order."""
    responses: list[Any] = [None] * len(submissions)

    def post(position: int, actor: Any, token: str) -> None:
        responses[position] = post_jws(world.client, actor, token)

    threads = []
    for position, (actor, token) in enumerate(submissions):
        thread = threading.Thread(target=post, args=(position, actor, token))
        thread.start()
        threads.append(thread)
        time.sleep(GAP_S)
    for thread in threads:
        thread.join(timeout=30)
    return responses


def checkpoint_size_of(receipt: dict[str, Any]) -> int:
    return int(parse_tlog_proof(receipt["proof"]).checkpoint_note.splitlines()[1])
