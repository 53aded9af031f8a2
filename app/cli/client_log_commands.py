"""The auditors' and witnesses' commands (contract §9): ``lnx verify``, ``lnx audit``, ``lnx witness``.

Thin, like ``client_commands`` (whose profile and error plumbing they share): the checks are
``lnx_client.verify``, ``lnx_client.audit`` and ``lnx_client.witness``; this module renders.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from lnx_client import Client, LnxClientError, VerificationError
from lnx_client import config as lnx_config
from lnx_client.audit import AuditReport, default_state_path, run_audit
from lnx_client.cursor import atomic_write_text
from lnx_client.verify import parse_time, verify_document, verify_receipt
from lnx_client.witness import SplitViewError, Witness, generate_witness_key, load_witness_key
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.cli.client_commands import (
    LogKeyOpt,
    ProfileOpt,
    TokenOpt,
    UrlOpt,
    api_errors,
    log_key_value,
    open_client,
    profile_settings,
    read_input,
    read_json_file,
)
from app.cli.common import console, err_console, fail, print_json

__all__ = ["audit", "verify", "witness_app"]


# ---------------------------------------------------------------- verify


def verify(
    file: Annotated[
        Path, typer.Argument(help="A document (compact JWS) or a receipt (JSON from `lnx submit --out`).")
    ],
    jwks: Annotated[
        Path | None, typer.Option("--jwks", help="The issuer's JWKS (GET /v1/participants/CODE/keys).")
    ] = None,
    log_key: LogKeyOpt = None,
    jws_file: Annotated[
        Path | None, typer.Option("--jws", help="The document of a receipt without one.")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Check the key as of this time (default: integration time or now)."),
    ] = None,
    profile: ProfileOpt = None,
) -> None:
    """Verify offline: a document's signature (--jwks), or a receipt's inclusion proof (--log-key).

    Exit 0 with "OK ..." or 1 with the reason.
    """
    settings = profile_settings(profile)
    text = read_input(file).strip()
    try:
        if text.startswith("{") or text.startswith("c2sp.org/tlog-proof@v1"):
            message = _verify_receipt(text, jwks, log_key_value(log_key or settings.log_key), jws_file, at)
        else:
            if jwks is None:
                fail("verifying a document needs the issuer's keys: --jwks FILE", code=1)
            result = verify_document(text, read_json_file(jwks, "a JWKS"), at=at)
            message = (
                f"OK document {result.payload.get('id')} ({result.payload.get('type')}) by "
                f"{result.payload.get('issuer')}, signed with key {result.kid} valid at {result.checked_at.isoformat()}"
            )
    except (VerificationError, ValueError) as exc:
        err_console.print(f"[red]FAIL[/red] {exc}")
        raise typer.Exit(1) from None
    typer.echo(message)


def _verify_receipt(
    text: str, jwks: Path | None, log_key: str | None, jws_file: Path | None, at: str | None
) -> str:
    if not log_key:
        fail("verifying a receipt needs the log's key: --log-key KEY (or log_key in the profile)", code=1)
    # A tlog-proof ends with its checkpoint note, whose last line ends in a newline.
    receipt: Any = json.loads(text) if text.startswith("{") else text + "\n"
    jws = (
        read_input(jws_file).strip()
        if jws_file
        else (receipt.get("jws") if isinstance(receipt, dict) else None)
    )
    if not jws:
        fail("the receipt carries no document: pass --jws FILE", code=1)
    assert log_key is not None and jws is not None
    integrated = at if not isinstance(receipt, dict) else None
    checkpoint = verify_receipt(receipt, jws, log_key, integrated_time=integrated)
    when = (
        parse_time(at)
        if at
        else parse_time(receipt.get("integrated_time") if isinstance(receipt, dict) else None)
    )
    message = f"OK receipt: included in checkpoint {checkpoint.origin} of size {checkpoint.size}"
    if jwks is not None:
        result = verify_document(jws, read_json_file(jwks, "a JWKS"), at=when)
        message += f"; document {result.payload.get('id')} signed with key {result.kid} valid when logged"
    return message


# ---------------------------------------------------------------- audit


def _print_report(report: AuditReport) -> None:
    summary = Table(title="lnx audit", show_header=False)
    rows = [
        ("exchange", report.url),
        ("log", f"{report.origin} (key {report.log_key})"),
        ("checkpoint", f"size {report.tree_size}, root {report.root_hash}"),
        ("previous audit", "none" if report.previous_size is None else f"size {report.previous_size}"),
        ("entries checked", str(report.entries_checked)),
        ("documents", f"{report.documents_full} full, {report.documents_metadata} metadata only"),
        ("signatures verified", f"{report.signatures_verified} on {report.workers} worker(s)"),
        ("time", f"{report.seconds.get('total', 0):.2f} s"),
    ]
    if report.documents_after_checkpoint:
        rows.append(("after the checkpoint", f"{report.documents_after_checkpoint} (next audit)"))
    for name, value in rows:
        summary.add_row(name, value)
    console.print(summary)
    for warning in report.warnings:
        err_console.print(f"[bold yellow]WARNING[/bold yellow] {warning}")
    if report.ok:
        console.print("[bold green]OK[/bold green] the log and every document checked out")
        return
    failures = Table(title=f"[red]{len(report.failures)} failure(s)[/red]")
    for column in ("entry", "document", "code", "reason"):
        failures.add_column(column)
    for f in report.failures:
        failures.add_row("" if f.index is None else str(f.index), f.document_id or "", f.code, f.reason)
    console.print(failures)


def audit(
    log_key: LogKeyOpt = None,
    state: Annotated[
        Path | None, typer.Option("--state", help="Audit state file (default: in the config directory).")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the report as JSON here.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Processes for signature checks (default: all cores).")
    ] = None,
    partial: Annotated[
        bool, typer.Option("--partial", help="Not an auditor: do not require a document for every entry.")
    ] = False,
    profile: ProfileOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Audit the log and every readable document; exit 0 if all holds, 1 on failures, 2 on a split view."""
    settings = profile_settings(profile, url=url, token=token, log_key=log_key)
    state_path = state or default_state_path(lnx_config.config_dir(), settings.url)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with (
        api_errors(),
        open_client(settings) as client,
        Progress(*columns, console=err_console, transient=True) as bar,
    ):
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        report = run_audit(
            client,
            log_key=log_key_value(settings.log_key),
            state_path=state_path,
            workers=workers,
            complete=not partial,
            progress=progress,
        )
    if json_out is not None:
        atomic_write_text(json_out, json.dumps(report.to_dict(), indent=2, default=str) + "\n", mode=0o644)
    _print_report(report)
    if not report.ok:
        raise typer.Exit(2 if report.split_view else 1)


# ---------------------------------------------------------------- witness

witness_app = typer.Typer(
    help="Cosign the exchange's checkpoints as a witness (C2SP tlog-cosignature).",
    invoke_without_command=True,
)


def _split_view(exc: SplitViewError) -> None:
    err_console.print(
        f"[bold red]SPLIT VIEW: the exchange served inconsistent checkpoints: {exc.reason}[/bold red]"
    )
    err_console.print(f"[red]previously cosigned:[/red]\n{exc.old_note}")
    err_console.print(f"[red]now served:[/red]\n{exc.new_note}")
    err_console.print("[bold red]refusing to cosign; keep both notes as evidence[/bold red]")
    raise typer.Exit(2)


@witness_app.callback()
def witness(
    ctx: typer.Context,
    key: Annotated[
        Path | None, typer.Option("--key", help="Witness private key file (lnx witness keygen).")
    ] = None,
    log_key: LogKeyOpt = None,
    state: Annotated[Path | None, typer.Option("--state", help="Witness state file.")] = None,
    interval: Annotated[float, typer.Option(help="Seconds between checkpoint polls.")] = 10.0,
    once: Annotated[bool, typer.Option("--once", help="Check and cosign once, then exit.")] = False,
    profile: ProfileOpt = None,
    url: UrlOpt = None,
) -> None:
    """Poll, verify, check consistency and cosign checkpoints; exit 2 on a split view."""
    if ctx.invoked_subcommand is not None:
        return
    if key is None:
        fail("--key is required (create one with `lnx witness keygen`)")
    assert key is not None
    settings = profile_settings(profile, url=url, log_key=log_key)
    try:
        signer = load_witness_key(read_input(key))
    except ValueError as exc:
        fail(f"{key} is not a witness key: {exc}")
        raise
    kind = "witness-" + "".join(c if c.isalnum() else "_" for c in signer.name)
    state_path = state or default_state_path(lnx_config.config_dir(), settings.url, kind)
    with Client(settings.url) as client:
        runner = Witness(client, signer, state_path=state_path, log_key=log_key_value(settings.log_key))
        while True:
            try:
                outcome = runner.step()
            except SplitViewError as exc:
                _split_view(exc)
            except VerificationError as exc:
                fail(f"the checkpoint does not verify with the log key: {exc}")
            except LnxClientError as exc:
                if once:
                    fail(str(exc))
                err_console.print(f"[yellow]will retry in {interval:g} s:[/yellow] {exc}")
            else:
                for warning in outcome.warnings:
                    err_console.print(f"[bold yellow]WARNING[/bold yellow] {warning}")
                console.print(f"[green]{outcome.action}[/green] {outcome.message}")
            if once:
                return
            time.sleep(interval)


@witness_app.command("keygen")
def witness_keygen(
    name: Annotated[str, typer.Option("--name", help="The witness's key name, e.g. witness.example.org/w1.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the PRIVATE key (mode 0600).")],
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Create a witness key; prints the verifier key for the operator to register."""
    if out.exists() and not force:
        fail(f"{out} exists; pass --force to overwrite")
    try:
        skey, vkey = generate_witness_key(name)
    except ValueError as exc:
        fail(f"invalid name: {exc}")
        raise
    atomic_write_text(out, skey + "\n", mode=0o600)
    print_json({"name": name, "vkey": vkey, "private_key_file": str(out)})
