"""``lnx log-key new`` / ``show``: a key made offline, 0600, never overwritten, usable by the servers."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from lnx_client.core import note
from typer.testing import CliRunner

from app.cli.main import app as cli
from app.config import Settings
from app.log.signer import load_or_create_signer

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_origin_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LNX_LOG_ORIGIN", raising=False)
    monkeypatch.delenv("LNX_LOG_KEY_NAME", raising=False)


def test_new_key_is_private_and_loads_as_the_log_key(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "log-key.txt"
    result = runner.invoke(cli, ["log-key", "new", "--out", str(key), "--origin", "lnx.example.org/log/2026"])
    assert result.exit_code == 0, result.output
    vkey = result.output.strip()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert note.Verifier.from_vkey(vkey).name == "lnx.example.org/log/2026"
    shown = runner.invoke(cli, ["log-key", "show", str(key)])
    assert shown.exit_code == 0 and shown.output.strip() == vkey
    settings = Settings(data_dir=tmp_path, log_origin="lnx.example.org/log/2026", log_key_path=key)
    assert load_or_create_signer(settings).vkey == vkey


def test_an_existing_key_is_never_overwritten(tmp_path: Path) -> None:
    key = tmp_path / "log-key.txt"
    assert (
        runner.invoke(cli, ["log-key", "new", "--out", str(key), "--origin", "a.example/log"]).exit_code == 0
    )
    before = key.read_bytes()
    result = runner.invoke(cli, ["log-key", "new", "--out", str(key), "--origin", "a.example/log"])
    assert result.exit_code == 2 and "never overwritten" in result.output
    assert key.read_bytes() == before


def test_a_name_is_required_and_checked(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["log-key", "new", "--out", str(tmp_path / "k")])
    assert result.exit_code == 2 and "--origin" in result.output
    result = runner.invoke(cli, ["log-key", "new", "--out", str(tmp_path / "k"), "--name", "bad name+plus"])
    assert result.exit_code == 2
    assert not (tmp_path / "k").exists()
