"""Client-side commands (contract §9): sign, submit, get, list, watch, config; and (in
``client_log_commands``) verify, audit and witness.

A thin layer over ``lnx_client``: every command resolves a profile (flags > ``LNX_*`` environment
> ``[profiles.<name>]`` in the config file), calls the library and renders the result with rich
(or JSON with ``--json``). Nothing here talks to the database.
"""

from __future__ import annotations

import json
import sys
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from lnx_client import Client, LnxApiError, LnxClientError, sign_document
from lnx_client import config as lnx_config
from lnx_client.core.jws import JwkSigner
from lnx_client.cursor import atomic_write_text
from rich.live import Live
from rich.table import Table

from app.cli.common import console, err_console, fail, print_json

__all__ = [
    "LogKeyOpt",
    "ProfileOpt",
    "TokenOpt",
    "UrlOpt",
    "api_errors",
    "log_key_value",
    "open_client",
    "profile_settings",
    "read_input",
    "read_json_file",
    "register",
]

ProfileOpt = Annotated[
    str | None, typer.Option("--profile", "-p", help="Profile in the config file (env LNX_PROFILE).")
]
UrlOpt = Annotated[str | None, typer.Option("--url", help="Exchange base URL (env LNX_URL).")]
TokenOpt = Annotated[str | None, typer.Option("--token", help="API token (env LNX_TOKEN).")]
KeyOpt = Annotated[Path | None, typer.Option("--key", help="Private signing JWK file (env LNX_KEY).")]
LogKeyOpt = Annotated[
    str | None,
    typer.Option("--log-key", help="The log's verifier key, or a file holding it (env LNX_LOG_KEY)."),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


# ---------------------------------------------------------------- shared plumbing


def profile_settings(profile: str | None, **explicit: Any) -> lnx_config.Profile:
    try:
        return lnx_config.resolve_profile(
            profile, **{k: (str(v) if v else None) for k, v in explicit.items()}
        )
    except KeyError as exc:
        fail(str(exc.args[0]))
        raise  # unreachable: fail() exits


@contextmanager
def api_errors() -> Iterator[None]:
    """Turn API and connection errors into a red message and exit code 1."""
    try:
        yield
    except LnxApiError as exc:
        details = "; ".join(f"{e.get('pointer', '')}: {e.get('message', '')}" for e in exc.errors)
        fail(f"{exc.status} {exc.title}: {exc.detail}" + (f" ({details})" if details else ""))
    except LnxClientError as exc:
        fail(str(exc))


def open_client(settings: lnx_config.Profile) -> Client:
    return Client(settings.url, settings.token)


def read_input(path: Path) -> str:
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
        raise


def read_json_file(path: Path, what: str) -> Any:
    try:
        return json.loads(read_input(path))
    except ValueError:
        fail(f"{path} is not JSON ({what})")


def _signer(key: str | None) -> JwkSigner:
    if not key:
        fail("no signing key: pass --key KEY.jwk.json or set key in the profile")
    try:
        return JwkSigner(read_json_file(Path(str(key)), "a private JWK"))
    except ValueError as exc:
        fail(f"{key} is not a usable private signing key: {exc}")
        raise


def log_key_value(value: str | None) -> str | None:
    """A verifier key string given directly or as a file path."""
    if not value:
        return None
    candidate = Path(value).expanduser()
    if "+" not in value or candidate.is_file():
        return read_input(candidate).strip()
    return value.strip()


def _write_output(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text)
    else:
        atomic_write_text(out, text + "\n", mode=0o644)
        err_console.print(f"[dim]wrote {out}[/dim]")


# ---------------------------------------------------------------- sign, submit, get, list


def sign(
    payload: Annotated[Path, typer.Argument(help="Payload JSON file ('-' for stdin).")],
    key: KeyOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the JWS here, not stdout.")] = None,
    profile: ProfileOpt = None,
) -> None:
    """Sign a document payload with a private JWK; prints the compact JWS."""
    settings = profile_settings(profile, key=key)
    with api_errors():
        try:
            jws = sign_document(read_json_file(payload, "a document payload"), _signer(settings.key))
        except ValueError as exc:
            fail(f"cannot sign: {exc}")
    _write_output(jws, out)


def submit(
    payload: Annotated[Path | None, typer.Argument(help="Payload JSON file to sign and send.")] = None,
    jws_file: Annotated[Path | None, typer.Option("--jws", help="Send this pre-signed compact JWS.")] = None,
    key: KeyOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Save the receipt (with the JWS) for `lnx verify`.")
    ] = None,
    as_json: JsonFlag = False,
    profile: ProfileOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Sign (unless --jws) and submit a document; prints the receipt."""
    if (payload is None) == (jws_file is None):
        fail("give a payload file to sign, or --jws with a signed document")
    settings = profile_settings(profile, url=url, token=token, key=key)
    if jws_file is not None:
        jws = read_input(jws_file).strip()
    else:
        assert payload is not None
        try:
            jws = sign_document(read_json_file(payload, "a document payload"), _signer(settings.key))
        except ValueError as exc:
            fail(f"cannot sign: {exc}")
    with api_errors(), open_client(settings) as client:
        receipt = client.submit(jws)
    body = receipt.model_dump(mode="json")
    if out is not None:
        atomic_write_text(out, json.dumps({**body, "jws": jws}, indent=2) + "\n", mode=0o644)
    if as_json:
        print_json(body)
        return
    verb = "accepted" if receipt.created else "already accepted"
    console.print(
        f"[green]{verb}[/green] {receipt.id} ({receipt.type}) at log index {receipt.log_index}, "
        f"integrated {receipt.integrated_time.isoformat()}"
    )
    for finding in receipt.findings:
        console.print(
            f"[yellow]finding[/yellow] {finding.get('rule', '')}: {finding.get('message', finding)}"
        )


def get(
    document_id: Annotated[str, typer.Argument(help="Document id, e.g. IND-2026-0014.")],
    jose: Annotated[bool, typer.Option("--jose", help="Print the exact compact JWS.")] = False,
    as_json: JsonFlag = False,
    profile: ProfileOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Show one document (or its raw JWS with --jose)."""
    settings = profile_settings(profile, url=url, token=token)
    with api_errors(), open_client(settings) as client:
        if jose:
            typer.echo(client.get_jws(document_id))
            return
        document = client.get_document(document_id)
    if as_json:
        print_json(document.model_dump(mode="json", exclude_none=True))
        return
    table = Table(title=document.id, show_header=False)
    for name in ("type", "issuer", "regime", "status", "access", "log_index", "integrated_time", "history"):
        value = getattr(document, name)
        if value is not None:
            table.add_row(name, str(value))
    if document.payload is not None:
        table.add_row("payload", json.dumps(document.payload, indent=2, ensure_ascii=False))
    for finding in document.findings:
        table.add_row("finding", str(finding.get("message", finding)))
    console.print(table)


def list_(
    types: Annotated[list[str] | None, typer.Option("--type", help="Document type (repeatable).")] = None,
    issuer: Annotated[str | None, typer.Option(help="Issuer code.")] = None,
    regime: Annotated[str | None, typer.Option(help="Regime id.")] = None,
    vehicle_class: Annotated[str | None, typer.Option("--class", help="Generic class, e.g. SLV.")] = None,
    status: Annotated[
        str | None, typer.Option(help="scheduled, updated, cancelled, launched, expired.")
    ] = None,
    window_from: Annotated[str | None, typer.Option(help="Windows ending after (RFC 3339).")] = None,
    window_to: Annotated[str | None, typer.Option(help="Windows starting before (RFC 3339).")] = None,
    limit: Annotated[int, typer.Option(help="Most documents to show (0: all).")] = 100,
    as_json: JsonFlag = False,
    profile: ProfileOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """List the documents you may read, in log order (follows pagination)."""
    settings = profile_settings(profile, url=url, token=token)
    filters = {
        "type": types or None,
        "issuer": issuer,
        "regime": regime,
        "vehicle_class": vehicle_class,
        "status": status,
        "window_from": window_from,
        "window_to": window_to,
        "page_size": min(limit, 1000) if limit else 1000,
    }
    documents = []
    with api_errors(), open_client(settings) as client:
        for document in client.iter_documents(**filters):
            documents.append(document)
            if limit and len(documents) >= limit:
                break
    if as_json:
        print_json([d.model_dump(mode="json", exclude_none=True) for d in documents])
        return
    table = Table(title=f"{len(documents)} document(s)")
    for column in ("index", "id", "type", "issuer", "regime", "status", "integrated"):
        table.add_column(column)
    for d in documents:
        when = d.integrated_time.isoformat(timespec="seconds") if d.integrated_time else ""
        table.add_row(str(d.log_index), d.id, d.type, d.issuer, d.regime or "", d.status or d.access, when)
    console.print(table)


# ---------------------------------------------------------------- watch


def _event_table(events: deque[Any], cursor: str | None) -> Table:
    table = Table(title=f"lnx feed (cursor {cursor or '-'})", caption="Ctrl-C to stop")
    for column in ("cursor", "time", "type", "document", "issuer", "regime"):
        table.add_column(column)
    for event in events:
        data = event.data or {}
        table.add_row(
            event.id,
            event.time.isoformat(timespec="seconds") if event.time else "",
            event.type.removeprefix("org.lnx.").removesuffix(".v1"),
            event.subject or "",
            str(data.get("issuer", "")),
            str(data.get("regime", "")),
        )
    return table


def watch(
    after: Annotated[
        str | None, typer.Option(help="Start after this cursor (overrides the cursor file).")
    ] = None,
    cursor_file: Annotated[
        Path | None, typer.Option("--cursor-file", help="Resume from and save the cursor here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON event per line (for pipes).")] = False,
    max_events: Annotated[int | None, typer.Option("--max-events", help="Stop after N events.")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Stop after this many seconds.")] = None,
    wait: Annotated[float, typer.Option(help="Long-poll wait per request (seconds, 0-30).")] = 30.0,
    profile: ProfileOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Follow the feed live (long poll): a table of arriving events, or JSON lines with --json."""
    settings = profile_settings(profile, url=url, token=token)
    recent: deque[Any] = deque(maxlen=20)
    count = 0
    with api_errors(), open_client(settings) as client:
        follower = client.follow(after, cursor_file=cursor_file, wait=wait, timeout=timeout)
        live = (
            None
            if as_json
            else Live(_event_table(recent, follower.cursor), console=console, auto_refresh=False)
        )
        try:
            if live is not None:
                live.start()
            for event in follower:
                count += 1
                if as_json:
                    typer.echo(event.model_dump_json(exclude_none=True))
                else:
                    recent.append(event)
                    assert live is not None
                    live.update(_event_table(recent, event.id), refresh=True)
                if max_events is not None and count >= max_events:
                    follower.commit()
                    break
        except KeyboardInterrupt:
            pass
        finally:
            if live is not None:
                live.stop()
    if not as_json:
        err_console.print(f"[dim]{count} event(s); cursor {follower.cursor or '-'}[/dim]")


# ---------------------------------------------------------------- config

config_app = typer.Typer(help="Profiles in the config file (url, token, key, log_key).", no_args_is_help=True)
_PROFILE_FIELDS = ("url", "token", "key", "log_key")


@config_app.command("set")
def config_set(
    name: Annotated[str, typer.Argument(help="url, token, key, log_key or default_profile.")],
    value: Annotated[str, typer.Argument(help="The value.")],
    profile: Annotated[str, typer.Option("--profile", "-p", help="Profile to change.")] = "default",
) -> None:
    """Set a value of a profile (the file is written with mode 0600: it holds tokens)."""
    import tomli_w

    path = lnx_config.config_path()
    config = lnx_config.load_config(path)
    if name == "default_profile":
        config["default_profile"] = value
    elif name in _PROFILE_FIELDS:
        config.setdefault("profiles", {}).setdefault(profile, {})[name] = value
    else:
        fail(f"unknown setting {name!r}: use one of {', '.join(_PROFILE_FIELDS)}, default_profile")
    atomic_write_text(path, tomli_w.dumps(config), mode=0o600)
    err_console.print(f"[dim]{path}: set {name}{'' if name == 'default_profile' else f' of {profile}'}[/dim]")


@config_app.command("show")
def config_show(profile: ProfileOpt = None) -> None:
    """Show the effective settings (token masked) and where they come from."""
    settings = profile_settings(profile)
    token = settings.token
    print_json(
        {
            "config_file": str(lnx_config.config_path()),
            "profile": settings.name,
            "url": settings.url,
            "token": f"{token[:8]}..." if token else None,
            "key": settings.key,
            "log_key": settings.log_key,
        }
    )


def register(app: typer.Typer) -> None:
    """Add the client-side commands to the ``lnx`` application."""
    from app.cli import client_log_commands

    app.command()(sign)
    app.command()(submit)
    app.command()(get)
    app.command("list")(list_)
    app.command()(watch)
    app.command()(client_log_commands.verify)
    app.command()(client_log_commands.audit)
    app.add_typer(client_log_commands.witness_app, name="witness")
    app.add_typer(config_app, name="config")
