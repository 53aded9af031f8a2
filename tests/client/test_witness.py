"""The witness engine: cosigns consistent checkpoints, and refuses a split view served by the exchange."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from lnx_client import Client
from lnx_client.core import note
from lnx_client.core.checkpoint import Checkpoint
from lnx_client.core.cosignature import CosignatureVerifier
from lnx_client.witness import SplitViewError, Witness, generate_witness_key, load_witness_key

from tests.client.live import LiveExchange
from tests.client.support import pre_launch, submit

WITNESS = "witness.test/w1"


class ForgingTransport(httpx.HTTPTransport):
    """Serves a forged checkpoint (validly signed by the log key) instead of the real one."""

    def __init__(self, forged: str) -> None:
        super().__init__()
        self.forged = forged

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/log/checkpoint":
            return httpx.Response(200, text=self.forged)
        return super().handle_request(request)


def witness_for(live: LiveExchange, tmp_path: Path, **client_kw: object) -> Witness:
    skey, vkey = generate_witness_key(WITNESS)
    with live.operator as op:
        if not any(w.name == WITNESS for w in op.list_witnesses()):
            op.register_witness(vkey)
    return Witness(
        live.client(**client_kw),  # type: ignore[arg-type]
        load_witness_key(skey),
        state_path=tmp_path / "witness.json",
        log_key=live.log_vkey(),
    )


def test_key_round_trip() -> None:
    skey, vkey = generate_witness_key(WITNESS)
    signer = load_witness_key(skey)
    assert signer.vkey == vkey and signer.name == WITNESS
    with pytest.raises(note.NoteError):
        load_witness_key(skey.replace("PRIVATE+KEY+witness.test/w1", "PRIVATE+KEY+other"))


def test_cosigns_then_moves_forward(live: LiveExchange, tmp_path: Path) -> None:
    ind = live.add("IND")
    submit(live, ind, pre_launch(ind))
    witness = witness_for(live, tmp_path)
    first = witness.step()
    assert first.action == "cosigned" and first.size == 1
    assert first.response is not None and first.response["stored"] == [WITNESS]

    served = live.client().log_checkpoint()
    verifier = CosignatureVerifier.from_vkey(live.operator.list_witnesses()[0].vkey)
    assert note.open_note(served, [verifier]).signed_by(verifier) is not None
    assert witness.step().action == "already-cosigned"

    submit(live, ind, pre_launch(ind))
    third = witness.step()
    assert (third.action, third.previous_size, third.size) == ("cosigned", 1, 2)


def test_refuses_a_split_view(live: LiveExchange, tmp_path: Path) -> None:
    ind = live.add("IND")
    submit(live, ind, pre_launch(ind))
    witness = witness_for(live, tmp_path)
    assert witness.step().action == "cosigned"

    # The exchange's own key signs a second, different tree of the same size.
    log_signer = note.Signer.from_skey(live.settings.resolved_log_key_path.read_text().strip())
    forged = note.sign_note(Checkpoint("lnx.test/log", 1, b"\x07" * 32).to_text(), log_signer)
    forked = Witness(
        Client(live.url, transport=ForgingTransport(forged)),
        witness.signer,
        state_path=witness.state_path,
        log_key=live.log_vkey(),
    )
    with pytest.raises(SplitViewError, match="two different roots") as info:
        forked.step()
    assert info.value.new_note == forged

    # A bigger forged tree fails the consistency proof.
    bigger = note.sign_note(Checkpoint("lnx.test/log", 2, b"\x07" * 32).to_text(), log_signer)
    submit(live, ind, pre_launch(ind))  # so that the log can answer a proof 1 -> 2
    forked_bigger = Witness(
        Client(live.url, transport=ForgingTransport(bigger)),
        witness.signer,
        state_path=witness.state_path,
        log_key=live.log_vkey(),
    )
    with pytest.raises(SplitViewError):
        forked_bigger.step()
