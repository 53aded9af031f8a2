"""Operations commands under ``lnx db``: ``backup``, ``restore`` and ``check`` (see docs/operations.md).

``app.cli.main`` calls :func:`register` with the top-level Typer app; the commands join its
``db`` group, beside ``upgrade`` and ``current``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli.common import (
    DatabaseUrlOpt,
    DataDirOpt,
    JsonOpt,
    apply_server_options,
    err_console,
    fail,
    print_json,
)

__all__ = ["register", "backup", "restore", "check", "log_key_app"]

EXIT_PROBLEMS = 1
"""``lnx db check`` found the log inconsistent."""
EXIT_REFUSED = 2
"""The command refused (database in use, target holds data, tool missing)."""


def backup(
    out: Annotated[Path, typer.Option("--out", help="Backup file to write (mode 0600).")],
    database_url: DatabaseUrlOpt = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Back up the database while the exchange keeps serving (SQLite online backup, or pg_dump)."""
    from app.ops import backup as ops_backup

    settings = apply_server_options(database_url, data_dir)
    url = settings.resolved_database_url
    db = ops_backup.sqlite_file(url)
    try:
        if db is not None:
            result = ops_backup.backup_sqlite(db, out)
        elif url.startswith("postgresql"):
            result = ops_backup.backup_postgres(url, out)
        else:
            fail("only file-backed SQLite and PostgreSQL databases can be backed up", code=EXIT_REFUSED)
            return
    except ops_backup.BackupError as exc:
        fail(str(exc), code=EXIT_REFUSED)
        return
    summary = {"out": str(result.path), "bytes": result.bytes, "seconds": round(result.seconds, 3)}
    if result.revision:
        summary["revision"] = result.revision
    if as_json:
        print_json(summary)
    else:
        typer.echo(f"backed up to {result.path} ({result.bytes} bytes in {result.seconds:.2f} s)")
        typer.echo("keep the log key's offline copy with it: a database without its key cannot sign")


def restore(
    file: Annotated[Path, typer.Argument(help="Backup made by `lnx db backup` (or pg_dump -Fc).")],
    force: Annotated[
        bool, typer.Option("--force", help="Restore over a database that is in use or holds data.")
    ] = False,
    run_check: Annotated[bool, typer.Option("--check/--no-check", help="Verify the log afterwards.")] = True,
    database_url: DatabaseUrlOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Replace the database with a backup; refuses a running or non-empty database without --force."""
    from app.ops import backup as ops_backup

    settings = apply_server_options(database_url, data_dir)
    url = settings.resolved_database_url
    db = ops_backup.sqlite_file(url)
    try:
        if db is not None:
            result = ops_backup.restore_sqlite(file, db, force=force)
        elif url.startswith("postgresql"):
            result = ops_backup.restore_postgres(file, url, force=force)
        else:
            fail("only file-backed SQLite and PostgreSQL databases can be restored", code=EXIT_REFUSED)
            return
    except ops_backup.BackupError as exc:
        fail(str(exc), code=EXIT_REFUSED)
        return
    typer.echo(f"restored {file} ({result.bytes} bytes in {result.seconds:.2f} s)")
    typer.echo(
        "if this log had published checkpoints newer than the backup, witnesses and auditors hold "
        "them: see docs/deployment.md before serving it"
    )
    if run_check:
        check(
            vkey=None, all_signatures=False, max_problems=20, database_url=None, data_dir=None, as_json=False
        )


def check(
    vkey: Annotated[
        str | None,
        typer.Option(
            "--vkey", envvar="LNX_LOG_VKEY", help="The log's verifier key (default: from the key file)."
        ),
    ] = None,
    all_signatures: Annotated[
        bool,
        typer.Option(
            "--all-signatures", help="Verify the signature of every checkpoint, not only the newest."
        ),
    ] = False,
    max_problems: Annotated[int, typer.Option(help="Stop after this many problems.")] = 20,
    database_url: DatabaseUrlOpt = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify the stored log locally: recompute the tree, check checkpoints, signatures and documents."""
    from lnx_client.core.note import NoteError

    from app.cli.common import db_session
    from app.ops import backup as ops_backup

    settings = apply_server_options(database_url, data_dir)
    try:
        verifier = ops_backup.verifier_for(settings, vkey)
    except (NoteError, OSError) as exc:
        fail(f"cannot read the log key: {exc}", code=EXIT_REFUSED)
        return
    with db_session(settings) as session:
        report = ops_backup.check_log(
            session,
            verifier,
            origin=settings.log_origin,
            all_signatures=all_signatures,
            max_problems=max_problems,
        )
    if as_json:
        print_json(report.as_dict())
    elif report.ok and report.newest_checkpoint is None:
        typer.echo("log ok: empty (this database has never been served)")
    elif report.ok:
        typer.echo(
            f"log ok: {report.leaves} entries, {report.documents} documents, {report.checkpoints} checkpoints, "
            f"{report.nodes_checked} tree nodes; newest checkpoint {report.newest_checkpoint} signed by "
            f"{verifier.name if verifier else '?'}"
        )
    if not report.ok:
        err_console.print(f"[red]log check failed[/red] at {report.problems[0]}")
        for problem in report.problems[1:]:
            err_console.print(f"  also: {problem}")
        if report.truncated:
            err_console.print("  (stopped early)")
        raise typer.Exit(EXIT_PROBLEMS)


log_key_app = typer.Typer(
    help="The log's signing key: create it offline, show its public verifier key.", no_args_is_help=True
)


@log_key_app.command("new")
def log_key_new(
    out: Annotated[
        Path, typer.Option("--out", help="Private key file to create (mode 0600; never overwritten).")
    ],
    name: Annotated[
        str | None,
        typer.Option(envvar="LNX_LOG_KEY_NAME", help="Key name (default: the log origin, LNX_LOG_ORIGIN)."),
    ] = None,
    origin: Annotated[str | None, typer.Option(envvar="LNX_LOG_ORIGIN", help="The log origin.")] = None,
) -> None:
    """Create a log signing key (C2SP signed-note Ed25519); prints the verifier key to publish."""
    import os

    from lnx_client.core import note

    key_name = name or origin
    if not key_name:
        fail(
            "give --name or --origin (or set LNX_LOG_ORIGIN): the key is named after the log",
            code=EXIT_REFUSED,
        )
        return
    try:
        note.check_key_name(key_name)
        skey, vkey = note.generate_signer(key_name)
    except note.NoteError as exc:
        fail(str(exc), code=EXIT_REFUSED)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fail(
            f"{out} exists: a log key is never overwritten (a new key needs a new origin)", code=EXIT_REFUSED
        )
        return
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(skey + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    typer.echo(vkey)


@log_key_app.command("show")
def log_key_show(
    key_file: Annotated[Path, typer.Argument(help="The private key file.")],
) -> None:
    """Print the verifier key (``name+hash+key``) of a log key file, for witnesses and auditors."""
    from lnx_client.core import note

    try:
        signer = note.Signer.from_skey(key_file.read_text(encoding="utf-8").strip())
    except (OSError, note.NoteError) as exc:
        fail(f"cannot read {key_file}: {exc}", code=EXIT_REFUSED)
        return
    typer.echo(signer.vkey)


def register(app: typer.Typer) -> None:
    """Add ``backup``, ``restore`` and ``check`` to the ``db`` group, and the ``log-key`` group."""
    db_group = next(
        (g.typer_instance for g in app.registered_groups if g.name == "db" and g.typer_instance), None
    )
    target = db_group or app
    target.command("backup")(backup)
    target.command("restore")(restore)
    target.command("check")(check)
    app.add_typer(log_key_app, name="log-key")
