"""``lnx db check``: a healthy log passes; every kind of tampering is caught and the first bad entry named."""

from __future__ import annotations

import hashlib

import pytest
from lnx_client.core import note
from typer.testing import CliRunner

from app.cli.main import app as cli
from app.config import Settings
from tests.fixtures import Exchange
from tests.ops.support import Populated, execute, populate, run_check


@pytest.fixture
def log(exchange: Exchange) -> Populated:
    return populate(exchange)


def test_a_healthy_log_passes(log: Populated, settings: Settings) -> None:
    report = run_check(settings, all_signatures=True)
    assert report.ok, report.problems
    assert report.leaves == report.documents == log.size == 7
    assert report.tree_size == report.newest_checkpoint == 7
    assert report.signature_checked
    assert report.nodes_checked >= 7  # the leaves and every completed perfect subtree


def test_a_database_that_was_never_served_passes(settings: Settings) -> None:
    report = run_check(settings)
    assert report.ok and report.leaves == 0 and report.newest_checkpoint is None


def _bump_last_char(column: str) -> str:
    # substr(x, length(x), 1), not substr(x, -1): PostgreSQL reads a negative start as "from the
    # beginning", so the CASE never saw the last character and an 'A' was left unchanged.
    return (
        f"UPDATE documents SET {column} = substr({column}, 1, length({column}) - 1) || "
        f"CASE WHEN substr({column}, length({column}), 1) = 'A' THEN 'B' ELSE 'A' END WHERE log_index = :i"
    )


TAMPERINGS = {
    "document JWS edited": (_bump_last_char("jws"), "entry 3", "does not hash to its jws_sha256"),
    "leaf data edited": (
        "UPDATE log_leaves SET leaf_data = leaf_data || :junk WHERE idx = :i",
        "entry 3",
        "not SHA-256",
    ),
    "tree node deleted": ("DELETE FROM log_nodes WHERE level = 0 AND idx = :i", "entry 3", "missing"),
    "leaf deleted": ("DELETE FROM log_leaves WHERE idx = :i", "entry 3", "missing"),
    "document moved away from its entry": (
        "UPDATE documents SET log_index = log_index + 1000 WHERE log_index = :i",
        "entry 3",
        "no document",
    ),
    "sequence counter rewound": ("UPDATE log_sequence SET next_index = next_index - 1", "log sequence", "6"),
}


@pytest.mark.parametrize("sql,where,message", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_tampering_is_found_and_named(
    log: Populated, settings: Settings, sql: str, where: str, message: str
) -> None:
    execute(settings, sql, i=3, junk=b"x")
    report = run_check(settings)
    assert not report.ok
    first = report.problems[0]
    assert first.where == where, report.problems
    assert message in first.message, report.problems


def test_a_document_swapped_for_another_validly_hashed_one_is_found(
    log: Populated, settings: Settings
) -> None:
    # The stored hash is made to agree with the new bytes: only the log entry still remembers.
    other = "eyJhbGciOiJFZDI1NTE5In0.e30.c2ln"
    execute(
        settings,
        "UPDATE documents SET jws = :jws, jws_sha256 = :digest WHERE log_index = 2",
        jws=other,
        digest=hashlib.sha256(other.encode()).hexdigest(),
    )
    report = run_check(settings)
    assert [str(p) for p in report.problems][:1] == [
        f"entry 2: document {report.problems[0].message.split()[1]} its JWS is not the one the log entry commits to"
    ]


def test_a_checkpoint_with_a_wrong_root_is_found(log: Populated, settings: Settings) -> None:
    execute(settings, "UPDATE log_checkpoints SET root_hash = :zero WHERE size = 7", zero=b"\0" * 32)
    report = run_check(settings)
    assert report.problems[0].where == "checkpoint 7"
    assert "recomputed" in report.problems[0].message


def test_a_checkpoint_not_signed_by_the_given_key_is_found(log: Populated, settings: Settings) -> None:
    other = note.Signer.from_skey(note.generate_signer(settings.log_origin)[0]).verifier()
    report = run_check(settings, verifier=other)
    assert [p.where for p in report.problems] == ["checkpoint 7"]
    assert "not signed by the log key" in report.problems[0].message


def test_max_problems_stops_early(log: Populated, settings: Settings) -> None:
    execute(settings, "UPDATE documents SET jws = jws || 'x'")
    report = run_check(settings, max_problems=3)
    assert len(report.problems) == 3 and report.truncated
    assert [p.where for p in report.problems] == ["entry 0", "entry 1", "entry 2"]


# ---------------------------------------------------------------- the command


@pytest.fixture
def db_args(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    for name in ("LNX_DATABASE_URL", "LNX_DATA_DIR", "LNX_LOG_ORIGIN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LNX_LOG_ORIGIN", settings.log_origin)
    return ["--database-url", settings.resolved_database_url, "--data-dir", str(settings.data_dir)]


def test_the_command_passes_a_healthy_log_and_names_the_first_bad_entry(
    log: Populated, settings: Settings, db_args: list[str]
) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "check", *db_args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "log ok: 7 entries, 7 documents" in result.output

    execute(settings, "DELETE FROM log_nodes WHERE level = 1 AND idx = 1")
    result = runner.invoke(cli, ["db", "check", *db_args], catch_exceptions=False)
    assert result.exit_code == 1
    assert "log check failed at entry 2: stored tree node (level 1, index 1) missing" in result.output


def test_the_command_verifies_with_a_public_key_alone(
    log: Populated, settings: Settings, db_args: list[str], exchange: Exchange
) -> None:
    vkey = exchange.client.get("/v1/log/key").text.strip()
    settings.resolved_log_key_path.rename(settings.data_dir / "elsewhere.txt")
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "check", *db_args, "--json"], catch_exceptions=False)
    assert result.exit_code == 1 and "no log key given" in result.output
    result = runner.invoke(cli, ["db", "check", *db_args, "--vkey", vkey, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert '"signature_checked": true' in result.output
