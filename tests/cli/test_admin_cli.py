"""The operator's CLI: participants, keys, tokens, regimes, db upgrade, keygen, serve's schema check."""

from __future__ import annotations

import json
import os
import stat

import pytest
from typer.testing import CliRunner

from app import migrate
from app.cli.main import app as cli

runner = CliRunner()


@pytest.fixture
def db_args(database_url, tmp_path, monkeypatch):
    monkeypatch.delenv("LNX_DATABASE_URL", raising=False)
    return ["--database-url", database_url, "--data-dir", str(tmp_path / "data")]


def run(*args: str):
    result = runner.invoke(cli, list(args), catch_exceptions=False)
    return result


def test_operator_bootstrap_and_administration(db_args, tmp_path):
    r = run(
        "admin",
        "participant",
        "add",
        "ICC",
        "--name",
        "Immediate Central Contact",
        "--role",
        "operator",
        *db_args,
    )
    assert r.exit_code == 0, r.output
    r = run("admin", "participant", "add", "IND", "--name", "India", "--role", "state", *db_args, "--json")
    assert r.exit_code == 0 and json.loads(r.output)["code"] == "IND"
    r = run("admin", "participant", "add", "XXX", "--name", "Nowhere", "--role", "state", *db_args)
    assert r.exit_code == 1 and "ISO 3166-1" in r.output

    key_file = tmp_path / "ind.jwk.json"
    r = run("keygen", "--out", str(key_file))
    assert r.exit_code == 0, r.output
    generated = json.loads(r.output)
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    public_file = tmp_path / "ind.pub.json"
    public_file.write_text(json.dumps(generated["public_jwk"]))
    r = run("admin", "key", "add", "IND", "--jwk", str(public_file), *db_args)
    assert r.exit_code == 0 and r.output.strip() == generated["kid"]
    r = run("admin", "key", "add", "IND", "--jwk", str(key_file), *db_args)
    assert r.exit_code == 1 and "private" in r.output.lower()

    r = run(
        "admin", "token", "issue", "IND", "--scope", "read,submit", "--expires-in", "30", *db_args, "--json"
    )
    issued = json.loads(r.output)
    assert issued["token"].startswith("lnx_") and issued["scopes"] == ["read", "submit"]
    r = run("admin", "token", "list", "--participant", "IND", *db_args, "--json")
    assert [t["id"] for t in json.loads(r.output)] == [issued["id"]]
    assert issued["token"] not in r.output
    assert run("admin", "token", "revoke", issued["id"], *db_args).exit_code == 0

    r = run("admin", "regime", "join", "in-pk-2005", "IND", *db_args)
    assert r.exit_code == 0, r.output
    r = run("admin", "regime", "list", *db_args, "--json")
    regimes = {x["id"]: x for x in json.loads(r.output)}
    assert set(regimes) == {"hcoc", "us-ru-1988", "in-pk-2005", "cn-ru-2009"}
    assert regimes["in-pk-2005"]["members"] == ["IND"] and regimes["in-pk-2005"]["confidential"] is True
    assert run("admin", "regime", "leave", "in-pk-2005", "IND", *db_args).exit_code == 0
    assert run("admin", "regime", "leave", "in-pk-2005", "IND", *db_args).exit_code == 1

    r = run("admin", "key", "revoke", "IND", generated["kid"], "--reason", "rotated", *db_args)
    assert r.exit_code == 0
    r = run("admin", "participant", "deactivate", "IND", *db_args)
    assert r.exit_code == 0
    r = run("admin", "participant", "list", *db_args, "--json")
    assert {p["code"]: p["active"] for p in json.loads(r.output)} == {"ICC": True, "IND": False}


def test_db_upgrade_and_outdated_schema_is_refused(empty_database_url, tmp_path, monkeypatch):
    monkeypatch.delenv("LNX_DATABASE_URL", raising=False)
    args = ["--database-url", empty_database_url, "--data-dir", str(tmp_path)]
    migrate.upgrade(empty_database_url, "0001")
    r = run("admin", "participant", "list", *args)
    assert r.exit_code != 0
    r = run("db", "current", *args)
    assert r.output.startswith("outdated 0001")
    r = run("serve", *args, "--port", "1")
    assert r.exit_code == 3 and "lnx db upgrade" in r.output
    assert run("db", "upgrade", *args).exit_code == 0
    assert run("db", "current", *args).output.startswith("current")


def test_serve_refuses_several_workers_on_sqlite(tmp_path, monkeypatch):
    monkeypatch.delenv("LNX_DATABASE_URL", raising=False)
    r = run("serve", "--workers", "2", "--data-dir", str(tmp_path))
    assert r.exit_code == 2 and "PostgreSQL" in r.output


def test_serve_turns_the_startup_freeze_on_for_the_process_it_serves_in(db_args, monkeypatch):
    """With one worker uvicorn serves in the CLI's own process, whose settings are read once.

    The freeze (and the young-generation threshold, app/main.py) once reached only the processes
    of ``--workers 2``: the one-worker server had cached its settings before the switch was set.
    """
    import uvicorn

    from app.config import get_settings

    monkeypatch.delenv("LNX_GC_FREEZE_AFTER_STARTUP", raising=False)
    seen = {}

    def served(app: str, **options: object) -> None:  # what uvicorn would start, in this process
        seen["app"], seen["workers"] = app, options["workers"]
        seen["freeze"] = get_settings().gc_freeze_after_startup

    monkeypatch.setattr(uvicorn, "run", served)
    try:
        assert run("serve", *db_args, "--port", "1").exit_code == 0
    finally:
        get_settings.cache_clear()
    assert seen == {"app": "app.main:create_app", "workers": 1, "freeze": True}


def test_a_kid_that_begins_with_a_dash_is_revoked(db_args, tmp_path):
    """A kid is a base64url thumbprint; one in 64 begins with "-", which click read as an option
    (this module's first test failed that way now and then)."""
    from lnx_client.core import jwk as core_jwk

    while True:
        public = core_jwk.public_jwk_from_private(core_jwk.generate_private_jwk("Ed25519"))
        if core_jwk.thumbprint(public).startswith("-"):
            break
    public_file = tmp_path / "dash.pub.json"
    public_file.write_text(json.dumps(public))
    assert (
        run("admin", "participant", "add", "IND", "--name", "India", "--role", "state", *db_args).exit_code
        == 0
    )
    kid = run("admin", "key", "add", "IND", "--jwk", str(public_file), *db_args).output.strip()
    assert kid.startswith("-")

    r = run("admin", "key", "revoke", "IND", kid, "--reason", "rotated", *db_args)

    assert r.exit_code == 0, r.output
    assert r.output.strip() == f"revoked {kid}"
    [listed] = json.loads(run("admin", "key", "list", "IND", *db_args).output)["keys"]
    assert listed["kid"] == kid and listed.get("revoked_at")
