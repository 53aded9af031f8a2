"""The ``lnx`` command: one entry point for operators, National Points of Contact and auditors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from app.cli.admin import admin_app
from app.cli.common import DatabaseUrlOpt, DataDirOpt, apply_server_options, console, fail, print_json

app = typer.Typer(
    help="Launch Notification Exchange: serve the exchange, administer it, sign, submit, watch and audit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")


def _prepare_database(settings) -> None:  # type: ignore[no-untyped-def]
    """Migrate an empty database; refuse an outdated one with the command to run."""
    from sqlalchemy.exc import IntegrityError

    from app import migrate
    from app.db import make_engine, make_sessionmaker, session_scope
    from app.main import SchemaNotCurrent, check_schema
    from app.regimes import service as regimes_service

    engine = make_engine(settings.resolved_database_url, pool_size=1)
    try:
        state, _ = migrate.schema_state(engine)
        if state == migrate.SchemaState.EMPTY:
            console.print("[dim]empty database: applying migrations[/dim]")
            migrate.upgrade(settings.resolved_database_url)
        try:
            check_schema(engine)
        except SchemaNotCurrent as exc:
            fail(str(exc), code=3)
        try:
            for session in session_scope(make_sessionmaker(engine)):
                regimes_service.ensure_shipped_regimes(session)
        except IntegrityError:
            # Several servers starting at once on a fresh database: another one seeded them first.
            console.print("[dim]shipped regimes were seeded concurrently[/dim]")
    finally:
        engine.dispose()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (use PostgreSQL for more than one).")] = 1,
    database_url: DatabaseUrlOpt = None,
    data_dir: DataDirOpt = None,
    log_origin: Annotated[
        str | None, typer.Option(envvar="LNX_LOG_ORIGIN", help="Origin of the log.")
    ] = None,
    log_key_path: Annotated[
        Path | None, typer.Option(envvar="LNX_LOG_KEY_PATH", help="Log signing key file.")
    ] = None,
    limit_concurrency: Annotated[
        int | None,
        typer.Option(
            envvar="LNX_LIMIT_CONCURRENCY",
            help="Most connections and tasks at once per worker; more are answered 503.",
        ),
    ] = None,
    cpu_affinity: Annotated[
        bool,
        typer.Option(
            envvar="LNX_CPU_AFFINITY",
            help="With several workers and no more workers than CPUs, pin each worker to a CPU of its own.",
        ),
    ] = True,
) -> None:
    """Run the exchange (SQLite by default; PostgreSQL with --database-url)."""
    from app import serving

    if log_origin:
        os.environ["LNX_LOG_ORIGIN"] = log_origin
    if log_key_path:
        os.environ["LNX_LOG_KEY_PATH"] = str(log_key_path)
    # Before the settings are read: with one worker, uvicorn serves in this process, whose
    # settings are cached from the first read (a later environment change would not reach them).
    os.environ.setdefault("LNX_GC_FREEZE_AFTER_STARTUP", "true")  # served processes (app/main.py)
    settings = apply_server_options(database_url, data_dir)
    if workers > 1 and settings.resolved_database_url.startswith("sqlite"):
        fail("several workers need PostgreSQL: SQLite serialises writers in one process", code=2)
    _prepare_database(settings)
    from app.ops import metrics as ops_metrics

    ops_metrics.prepare_multiprocess_dir()  # PROMETHEUS_MULTIPROC_DIR: no counts from a previous run
    serving.serve(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        cpu_affinity=cpu_affinity,
        limit_concurrency=limit_concurrency,
        access_log=False,
        timeout_graceful_shutdown=10,
        log_level="warning",
    )


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    database_url: DatabaseUrlOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Apply the migrations up to head (or REVISION)."""
    from app import migrate

    settings = apply_server_options(database_url, data_dir)
    migrate.upgrade(settings.resolved_database_url, revision)
    typer.echo(f"database at {migrate.head_revision() if revision == 'head' else revision}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")],
    database_url: DatabaseUrlOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Revert migrations down to REVISION."""
    from app import migrate

    settings = apply_server_options(database_url, data_dir)
    migrate.downgrade(settings.resolved_database_url, revision)
    typer.echo(f"database at {revision}")


@db_app.command("current")
def db_current(database_url: DatabaseUrlOpt = None, data_dir: DataDirOpt = None) -> None:
    """Print the schema state (empty, current, outdated) and revision."""
    from app import migrate
    from app.db import make_engine

    settings = apply_server_options(database_url, data_dir)
    engine = make_engine(settings.resolved_database_url, pool_size=1)
    try:
        state, revision = migrate.schema_state(engine)
    finally:
        engine.dispose()
    typer.echo(f"{state.value} {revision or ''} (head {migrate.head_revision()})".strip())


@app.command()
def keygen(
    out: Annotated[Path, typer.Option("--out", help="Where to write the PRIVATE JWK (mode 0600).")],
    key_type: Annotated[str, typer.Option("--type", help="ed25519 or p256.")] = "ed25519",
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Generate a signing key; prints the public JWK and its kid."""
    from lnx_client.core import jwk as core_jwk

    families = {"ed25519": "Ed25519", "p256": "P-256", "p-256": "P-256"}
    family = families.get(key_type.lower())
    if family is None:
        fail("--type must be ed25519 or p256")
    if out.exists() and not force:
        fail(f"{out} exists; pass --force to overwrite")
    private = core_jwk.generate_private_jwk(family)  # type: ignore[arg-type]
    public = core_jwk.public_jwk_from_private(private)
    kid = core_jwk.thumbprint(public)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({**private, "kid": kid}, handle, indent=2)
    os.chmod(out, 0o600)
    print_json({"kid": kid, "public_jwk": {**public, "kid": kid}, "private_key_file": str(out)})


@app.command()
def demo(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    data_dir: Annotated[Path, typer.Option("--data-dir", envvar="LNX_DATA_DIR")] = Path("./lnx-demo"),
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Seed and print, but do not start the server.")
    ] = False,
) -> None:
    """A running exchange with sample participants, keys, tokens and notifications."""
    from app.cli import demo as demo_module

    os.environ.pop("LNX_DATABASE_URL", None)
    settings = apply_server_options(None, data_dir)
    _prepare_database(settings)
    summary = demo_module.seed(settings, base_url=f"http://{host}:{port}")
    demo_module.print_summary(summary, f"http://{host}:{port}")
    if no_serve:
        return
    import uvicorn

    uvicorn.run(
        "app.main:create_app", factory=True, host=host, port=port, access_log=False, log_level="warning"
    )


def _register_optional_commands() -> None:
    """Client-side commands (sign, submit, watch, audit, ...) live in their own modules."""
    import importlib

    for name in (
        "app.cli.client_commands",
        "app.cli.worker_commands",
        "app.cli.report_commands",
        "app.cli.ops_commands",
    ):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise
            continue
        module.register(app)


_register_optional_commands()

if __name__ == "__main__":
    app()
