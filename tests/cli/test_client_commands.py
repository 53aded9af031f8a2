"""The client-side `lnx` commands that need no server: help, sign, verify (exit codes 0/1), config."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from lnx_client import verify_document
from lnx_client.config import resolve_profile
from typer.testing import CliRunner

from app.cli.main import app
from tests.client.offline_log import OfflineLog, payload

runner = CliRunner()
COMMANDS = [
    ["sign"],
    ["submit"],
    ["get"],
    ["list"],
    ["watch"],
    ["verify"],
    ["audit"],
    ["witness"],
    ["witness", "keygen"],
    ["config", "set"],
    ["config", "show"],
]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str | None]:
    return {
        "LNX_CONFIG": str(tmp_path / "config.toml"),
        "LNX_URL": None,
        "LNX_TOKEN": None,
        "LNX_KEY": None,
        "LNX_LOG_KEY": None,
        "LNX_PROFILE": None,
    }


@pytest.fixture(scope="module")
def log() -> OfflineLog:
    return OfflineLog(size=3)


def lnx(*args: str | Path, env: dict[str, str | None]) -> object:
    return runner.invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str], env: dict[str, str | None]) -> None:
    result = lnx(*command, "--help", env=env)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "Usage" in result.output  # type: ignore[attr-defined]


def test_sign_writes_a_verifiable_jws(tmp_path: Path, env: dict[str, str | None], log: OfflineLog) -> None:
    key = tmp_path / "key.jwk"
    key.write_text(json.dumps(log.private_jwk))
    document = tmp_path / "payload.json"
    document.write_text(json.dumps(payload("IND", 42)))
    out = tmp_path / "doc.jws"
    result = lnx("sign", document, "--key", key, "--out", out, env=env)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    verified = verify_document(out.read_text().strip(), log.jwks(), at=log.times[0])
    assert verified.payload["id"] == "IND-2026-0042"
    printed = lnx("sign", document, "--key", key, env=env)
    assert printed.stdout.strip() == out.read_text().strip()  # type: ignore[attr-defined]
    missing = lnx("sign", document, env=env)
    assert missing.exit_code == 1 and "no signing key" in missing.output  # type: ignore[attr-defined]


def test_verify_exit_codes(tmp_path: Path, env: dict[str, str | None], log: OfflineLog) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(log.jwks()))
    document = tmp_path / "doc.jws"
    document.write_text(log.jws[1])
    at = log.times[1].isoformat()
    ok = lnx("verify", document, "--jwks", jwks, "--at", at, env=env)
    assert ok.exit_code == 0 and ok.stdout.startswith("OK document IND-2026-0002")  # type: ignore[attr-defined]

    document.write_text(log.jws[1][:-6] + "AAAAAA")
    bad = lnx("verify", document, "--jwks", jwks, "--at", at, env=env)
    assert bad.exit_code == 1 and "signature" in bad.stderr  # type: ignore[attr-defined]

    revoked = tmp_path / "revoked.json"
    revoked.write_text(json.dumps(log.jwks(revoked_at=log.times[1] - timedelta(seconds=1))))
    document.write_text(log.jws[1])
    late = lnx("verify", document, "--jwks", revoked, "--at", at, env=env)
    assert late.exit_code == 1 and "revoked" in late.stderr  # type: ignore[attr-defined]

    receipt = tmp_path / "receipt.json"
    receipt.write_text(json.dumps({**log.receipt(2), "jws": log.jws[2]}))
    key_file = tmp_path / "log.vkey"
    key_file.write_text(log.vkey + "\n")
    ok = lnx("verify", receipt, "--log-key", key_file, "--jwks", jwks, env=env)
    assert ok.exit_code == 0 and "included in checkpoint lnx.test/log of size 3" in ok.stdout  # type: ignore[attr-defined]

    proof = tmp_path / "proof.txt"
    proof.write_text(log.receipt(2)["proof"])
    jws_file = tmp_path / "two.jws"
    jws_file.write_text(log.jws[2])
    bare = lnx(
        "verify", proof, "--log-key", log.vkey, "--jws", jws_file, "--at", log.times[2].isoformat(), env=env
    )
    assert bare.exit_code == 0, bare.output  # type: ignore[attr-defined]
    wrong_time = lnx("verify", proof, "--log-key", log.vkey, "--jws", jws_file, "--at", at, env=env)
    assert wrong_time.exit_code == 1 and "inclusion proof" in wrong_time.stderr  # type: ignore[attr-defined]

    no_key = lnx("verify", receipt, env=env)
    assert no_key.exit_code == 1 and "--log-key" in no_key.output  # type: ignore[attr-defined]


def test_config_profiles_and_precedence(
    tmp_path: Path, env: dict[str, str | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    for args in (
        ("url", "http://127.0.0.1:1"),
        ("token", "lnx_profile"),
        ("url", "http://127.0.0.1:2", "--profile", "other"),
        ("default_profile", "other"),
    ):
        assert lnx("config", "set", *args, env=env).exit_code == 0  # type: ignore[attr-defined]
    config = Path(str(env["LNX_CONFIG"]))
    assert config.stat().st_mode & 0o777 == 0o600
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert resolve_profile().url == "http://127.0.0.1:2"  # default_profile
    assert resolve_profile("default").token == "lnx_profile"
    monkeypatch.setenv("LNX_URL", "http://127.0.0.1:3")
    assert resolve_profile("default").url == "http://127.0.0.1:3"  # environment over profile
    assert resolve_profile("default", url="http://127.0.0.1:4").url == "http://127.0.0.1:4"  # flag over all
    with pytest.raises(KeyError):
        resolve_profile("missing")
    assert lnx("config", "set", "colour", "blue", env=env).exit_code == 1  # type: ignore[attr-defined]


def test_xdg_config_home_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LNX_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "lnx").mkdir()
    (tmp_path / "lnx" / "config.toml").write_text('[profiles.default]\nurl = "http://127.0.0.1:9"\n')
    monkeypatch.delenv("LNX_URL", raising=False)
    assert resolve_profile("default").url == "http://127.0.0.1:9"


def test_submit_needs_exactly_one_document(env: dict[str, str | None]) -> None:
    result = lnx("submit", env=env)
    assert result.exit_code == 1 and "payload file" in result.output  # type: ignore[attr-defined]


def test_witness_keygen_does_not_overwrite(tmp_path: Path, env: dict[str, str | None]) -> None:
    out = tmp_path / "w.key"
    assert lnx("witness", "keygen", "--name", "w1", "--out", out, env=env).exit_code == 0  # type: ignore[attr-defined]
    again = lnx("witness", "keygen", "--name", "w1", "--out", out, env=env)
    assert again.exit_code == 1 and "exists" in again.output  # type: ignore[attr-defined]
    assert lnx("witness", env=env).exit_code == 1  # type: ignore[attr-defined]
