"""The audit engine against a real exchange: a clean log passes; every kind of tampering is named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lnx_client._tree import perfect_levels
from lnx_client.audit import AuditReport, run_audit
from lnx_client.core import merkle

from tests.client.live import LiveExchange, Party
from tests.client.support import delete_document, execute, pre_launch, submit


@pytest.fixture
def populated(live: LiveExchange) -> dict[str, Any]:
    """IND and PAK in hcoc and in-pk-2005; an auditor entrusted with hcoc only."""
    ind = live.add("IND", regimes=("hcoc", "in-pk-2005"))
    pak = live.add("PAK", regimes=("hcoc", "in-pk-2005"))
    auditor = live.add("AUDITOR", role="auditor", regimes=("hcoc",), key=None, scopes=("read",))
    receipts = [submit(live, ind, pre_launch(ind)) for _ in range(3)]
    receipts.append(submit(live, pak, pre_launch(pak)))
    receipts.append(submit(live, ind, pre_launch(ind, regime="in-pk-2005", recipients=["PAK"])))
    return {"ind": ind, "pak": pak, "auditor": auditor, "receipts": receipts}


def audit(live: LiveExchange, party: Party, state: Path, **kw: Any) -> AuditReport:
    with live.client(party.token) as client:
        return run_audit(client, state_path=state, log_key=kw.pop("log_key", live.log_vkey()), **kw)


def test_clean_log_passes_and_records_state(
    live: LiveExchange, populated: dict[str, Any], tmp_path: Path
) -> None:
    state = tmp_path / "audit.json"
    report = audit(live, populated["auditor"], state)
    assert report.ok, report.failures
    assert (report.tree_size, report.entries_checked) == (5, 5)
    assert (report.documents_full, report.documents_metadata) == (4, 1)  # in-pk-2005 is not entrusted
    assert report.signatures_verified == 4
    saved = json.loads(state.read_text())
    assert saved["size"] == 5 and saved["log_key"] == live.log_vkey()

    # The next audit proves the grown log consistent with the one audited before.
    submit(live, populated["pak"], pre_launch(populated["pak"]))
    again = audit(live, populated["auditor"], state)
    assert again.ok, again.failures
    assert (again.previous_size, again.tree_size) == (5, 6)


def test_trust_on_first_use_warns_then_pins_the_key(
    live: LiveExchange, populated: dict[str, Any], tmp_path: Path
) -> None:
    state = tmp_path / "audit.json"
    first = audit(live, populated["auditor"], state, log_key=None)
    assert first.ok and first.trust_on_first_use
    assert any("TRUST ON FIRST USE" in w for w in first.warnings)
    second = audit(live, populated["auditor"], state, log_key=None)
    assert second.ok and not second.trust_on_first_use

    other = json.loads(state.read_text())
    other["log_key"] = "lnx.test/log+00000000+AQ" + "A" * 42 + "="
    state.write_text(json.dumps(other))
    third = audit(live, populated["auditor"], state, log_key=None)
    assert [f.code for f in third.failures] == ["log-key-changed"] and third.split_view


def test_modified_payload_is_named(live: LiveExchange, populated: dict[str, Any], tmp_path: Path) -> None:
    target = populated["receipts"][1]
    execute(
        live,
        (
            "UPDATE documents SET payload = :payload WHERE id = :id",
            {"id": target.id, "payload": json.dumps({"x": 1})},
        ),
    )
    report = audit(live, populated["auditor"], tmp_path / "a.json")
    assert [(f.code, f.index, f.document_id) for f in report.failures] == [
        ("payload-mismatch", target.log_index, target.id)
    ]
    assert not (tmp_path / "a.json").exists()  # a failed audit does not advance the state


def test_modified_jws_is_named(live: LiveExchange, populated: dict[str, Any], tmp_path: Path) -> None:
    target = populated["receipts"][2]
    with live.client(populated["ind"].token) as client:
        jws = client.get_jws(target.id)
    execute(
        live, ("UPDATE documents SET jws = :jws WHERE id = :id", {"id": target.id, "jws": jws[:-4] + "AAAA"})
    )
    report = audit(live, populated["auditor"], tmp_path / "a.json")
    assert [(f.code, f.index, f.document_id) for f in report.failures] == [
        ("jws-hash-mismatch", target.log_index, target.id)
    ]


def test_deleted_document_leaves_an_orphan_entry(
    live: LiveExchange, populated: dict[str, Any], tmp_path: Path
) -> None:
    target = populated["receipts"][0]
    delete_document(live, target.id)
    report = audit(live, populated["auditor"], tmp_path / "a.json")
    assert [(f.code, f.index) for f in report.failures] == [("missing-document", target.log_index)]
    # A state's own view (not an auditor) cannot expect every entry: --partial.
    partial = audit(live, populated["ind"], tmp_path / "b.json", complete=False)
    assert partial.ok, partial.failures


def test_rewritten_log_entry_breaks_the_root(
    live: LiveExchange, populated: dict[str, Any], tmp_path: Path
) -> None:
    execute(
        live,
        ("UPDATE log_leaves SET leaf_data = :data WHERE idx = 3", {"data": b"lnx-entry/v1\nforged\n"}),
    )
    report = audit(live, populated["auditor"], tmp_path / "a.json")
    codes = {(f.code, f.index) for f in report.failures}
    assert ("leaf-hash-mismatch", 3) in codes and ("bad-entry", 3) in codes
    assert any(f.code == "root-mismatch" for f in report.failures)


def test_forked_state_is_a_split_view(live: LiveExchange, populated: dict[str, Any], tmp_path: Path) -> None:
    state = tmp_path / "audit.json"
    assert audit(live, populated["auditor"], state).ok
    saved = json.loads(state.read_text())
    saved["size"] = 9  # an audited checkpoint bigger than what is served now
    state.write_text(json.dumps(saved))
    report = audit(live, populated["auditor"], state)
    assert report.split_view and report.failures[0].code == "log-shrank"


def test_signature_checks_on_a_process_pool(
    live: LiveExchange, populated: dict[str, Any], tmp_path: Path
) -> None:
    target = populated["receipts"][3]
    execute(
        live, ("UPDATE documents SET payload = :p WHERE id = :id", {"id": target.id, "p": json.dumps({})})
    )
    report = audit(live, populated["auditor"], tmp_path / "a.json", workers=2, pool_threshold=1)
    assert report.signatures_verified == 4
    assert [(f.code, f.document_id) for f in report.failures] == [("payload-mismatch", target.id)]


def test_perfect_levels_give_the_rfc_root() -> None:
    for size in (0, 1, 2, 3, 7, 8, 255, 256, 257, 1000):
        leaves = [merkle.leaf_hash(str(i).encode()) for i in range(size)]
        levels = perfect_levels(leaves, lambda k: True)

        def get_nodes(wanted: Any, levels: dict[int, list[bytes]] = levels) -> list[bytes]:
            return [levels[level][index] for level, index in wanted]

        assert merkle.root_at(size, get_nodes) == merkle.root_from_leaf_hashes(leaves)
        assert all(len(levels[k]) == size >> k for k in levels)
