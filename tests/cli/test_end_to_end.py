"""End to end with the `lnx` command against a real exchange: a state submits, a partner watches, an
auditor audits (and catches tampering), a witness cosigns (and refuses a split view)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lnx_client.core import note
from lnx_client.core.checkpoint import Checkpoint
from lnx_client.core.cosignature import CosignatureVerifier
from typer.testing import CliRunner

from app.cli.main import app
from tests.client.live import LiveExchange, Party
from tests.client.support import delete_document, execute, pre_launch

runner = CliRunner()


def lnx(*args: str | Path, env: dict[str, str | None] | None = None) -> Any:
    result = runner.invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)
    return result


@pytest.fixture
def config_env(tmp_path: Path) -> dict[str, str | None]:
    """An isolated config file; no LNX_* variables leaking in from the environment."""
    return {
        "LNX_CONFIG": str(tmp_path / "config" / "config.toml"),
        "LNX_URL": None,
        "LNX_TOKEN": None,
        "LNX_KEY": None,
        "LNX_LOG_KEY": None,
        "LNX_PROFILE": None,
    }


def write_key(party: Party, path: Path) -> Path:
    path.write_text(json.dumps(party.private_jwk))
    return path


def submit_with_cli(tmp_path: Path, env: dict[str, str | None], party: Party, **kw: Any) -> dict[str, Any]:
    payload = pre_launch(party, **kw)
    payload_file = tmp_path / f"{payload['id']}.json"
    payload_file.write_text(json.dumps(payload))
    receipt_file = tmp_path / f"{payload['id']}.receipt.json"
    result = lnx(
        "submit", payload_file, "--profile", party.code.lower(), "--out", receipt_file, "--json", env=env
    )
    assert result.exit_code == 0, result.output
    receipt = json.loads(result.stdout)
    assert receipt["id"] == payload["id"] and receipt["created"] is True
    return receipt


def test_submit_watch_verify_audit(
    live: LiveExchange, tmp_path: Path, config_env: dict[str, str | None]
) -> None:
    ind = live.add("IND")
    pak = live.add("PAK")
    auditor = live.add("AUDITOR", role="auditor", regimes=("hcoc",), key=None, scopes=("read",))
    log_vkey = live.log_vkey()
    env = config_env
    for name, value in (
        ("url", live.url),
        ("token", ind.token),
        ("key", str(write_key(ind, tmp_path / "ind.jwk"))),
    ):
        assert lnx("config", "set", name, value, "--profile", "ind", env=env).exit_code == 0
    shown = json.loads(lnx("config", "show", "--profile", "ind", env=env).stdout)
    assert shown["url"] == live.url and shown["token"].endswith("...")

    # A state submits three notifications with `lnx submit` (signing with its profile's key).
    receipts = [submit_with_cli(tmp_path, env, ind) for _ in range(3)]
    ids = [r["id"] for r in receipts]

    # A partner follows the feed as JSON lines, and resumes from its cursor file.
    cursor = tmp_path / "pak.cursor"
    watch = (
        "watch",
        "--json",
        "--url",
        live.url,
        "--token",
        pak.token,
        "--cursor-file",
        cursor,
        "--timeout",
        "20",
    )
    result = lnx(*watch, "--max-events", "3", env=env)
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["subject"] for e in events] == ids
    assert all(e["specversion"] == "1.0" and e["data"]["jws"] for e in events)
    assert cursor.read_text().strip() == events[-1]["id"]
    fourth = submit_with_cli(tmp_path, env, ind)
    result = lnx(*watch, "--max-events", "1", env=env)
    assert [json.loads(line)["subject"] for line in result.stdout.splitlines()] == [fourth["id"]]

    # `lnx get` and `lnx list` read through the same profile.
    got = json.loads(lnx("get", ids[0], "--json", "--profile", "ind", env=env).stdout)
    assert got["id"] == ids[0] and got["status"] == "scheduled"
    jose = lnx("get", ids[0], "--jose", "--profile", "ind", env=env).stdout.strip()
    listed = json.loads(lnx("list", "--json", "--profile", "ind", "--type", "pre-launch", env=env).stdout)
    assert [d["id"] for d in listed] == [*ids, fourth["id"]]
    assert "IND" in lnx("list", "--profile", "ind", env=env).stdout

    # Offline verification of a receipt and of a document: exit 0, and 1 with the reason.
    jwks_file = tmp_path / "ind.jwks.json"
    with live.client(ind.token) as client:
        jwks_file.write_text(client.get_jwks("IND").model_dump_json())
    receipt_file = tmp_path / f"{ids[0]}.receipt.json"
    ok = lnx("verify", receipt_file, "--log-key", log_vkey, "--jwks", jwks_file, env=env)
    assert ok.exit_code == 0 and ok.stdout.startswith("OK receipt"), ok.output
    document_file = tmp_path / "doc.jws"
    document_file.write_text(jose)
    assert lnx("verify", document_file, "--jwks", jwks_file, env=env).stdout.startswith("OK document")
    tampered = json.loads(receipt_file.read_text())
    tampered["jws"] = json.loads(json.dumps(tampered["jws"]))[:-3] + "AAA"
    receipt_file.write_text(json.dumps(tampered))
    bad = lnx("verify", receipt_file, "--log-key", log_vkey, env=env)
    assert bad.exit_code == 1 and "FAIL" in bad.stderr and "leaf_hash" in bad.stderr

    # An auditor audits: everything checks out, and the state file records the checkpoint.
    state = tmp_path / "audit-state.json"
    audit = ("audit", "--url", live.url, "--token", auditor.token, "--log-key", log_vkey, "--state", state)
    result = lnx(*audit, "--json", tmp_path / "report.json", env=env)
    assert result.exit_code == 0, result.output
    assert "OK" in result.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["ok"] and report["signatures_verified"] == 4 and report["tree_size"] == 4

    # Someone rewrites a stored payload: the audit fails and names the entry.
    execute(
        live, ("UPDATE documents SET payload = :p WHERE id = :id", {"id": ids[1], "p": json.dumps({"a": 1})})
    )
    result = lnx(*audit, "--json", tmp_path / "report2.json", env=env)
    assert result.exit_code == 1
    assert ids[1] in result.stdout and "payload-mismatch" in result.stdout
    failures = json.loads((tmp_path / "report2.json").read_text())["failures"]
    assert [(f["index"], f["document_id"], f["code"]) for f in failures] == [
        (receipts[1]["log_index"], ids[1], "payload-mismatch")
    ]

    # ... or deletes a document: its log entry is left without one.
    delete_document(live, ids[2])
    result = lnx(*audit, "--json", tmp_path / "report3.json", env=env)
    assert result.exit_code == 1
    codes = {(f["index"], f["code"]) for f in json.loads((tmp_path / "report3.json").read_text())["failures"]}
    assert (receipts[2]["log_index"], "missing-document") in codes


def test_witness_cosigns_and_refuses_a_split_view(
    live: LiveExchange,
    tmp_path: Path,
    config_env: dict[str, str | None],
) -> None:
    ind = live.add("IND")
    env = config_env
    live_client = live.client(ind.token)
    from lnx_client import sign_document

    live_client.submit(sign_document(pre_launch(ind), ind.private_jwk or {}))
    key_file = tmp_path / "witness.key"
    created = lnx("witness", "keygen", "--name", "witness.test/w1", "--out", key_file, env=env)
    assert created.exit_code == 0, created.output
    vkey = json.loads(created.stdout)["vkey"]
    assert (key_file.stat().st_mode & 0o777) == 0o600
    with live.operator as op:
        op.register_witness(vkey)

    state = tmp_path / "witness-state.json"
    args = (
        "witness",
        "--key",
        key_file,
        "--url",
        live.url,
        "--log-key",
        live.log_vkey(),
        "--state",
        state,
        "--once",
    )
    result = lnx(*args, env=env)
    assert result.exit_code == 0, result.output
    assert "cosigned checkpoint 1" in result.stdout
    served = live.client().log_checkpoint()
    verifier = CosignatureVerifier.from_vkey(vkey)
    assert note.open_note(served, [verifier]).signed_by(verifier) is not None
    assert "already" in lnx(*args, env=env).stdout

    # The state now remembers a checkpoint of size 1 with a root the exchange never served:
    # as if the exchange had shown this witness another history before.
    log_signer = note.Signer.from_skey(live.settings.resolved_log_key_path.read_text().strip())
    remembered = json.loads(state.read_text())
    remembered["checkpoint"] = note.sign_note(
        Checkpoint("lnx.test/log", 1, b"\x01" * 32).to_text(), log_signer
    )
    state.write_text(json.dumps(remembered))
    result = lnx(*args, env=env)
    assert result.exit_code == 2, result.output
    assert "SPLIT VIEW" in result.stderr and "refusing to cosign" in result.stderr
    live_client.close()
