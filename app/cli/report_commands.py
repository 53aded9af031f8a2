"""`lnx report ...`: the compliance report and upcoming windows, read over the HTTP API.

Client commands, like ``lnx list``: a National Point of Contact or an auditor runs them against
an exchange through ``lnx_client`` with a profile (``--profile``/``--url``/``--token``, else
``LNX_URL``/``LNX_TOKEN``, else the config file), never against the database, so that each
caller sees exactly what the server lets that token see. ``--csv`` asks the server for its CSV
rendering (``Accept: text/csv``) rather than flattening the JSON a second way here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from lnx_client import Call, Client, LnxApiError, LnxClientError
from lnx_client import config as lnx_config
from rich.console import Console
from rich.table import Table

from app.cli.common import JsonOpt, fail, print_json

__all__ = ["register", "report_app"]

report_app = typer.Typer(
    help="Reports: compliance per state and regime, upcoming launch windows.", no_args_is_help=True
)

ProfileOpt = Annotated[
    str | None, typer.Option("--profile", "-p", help="Profile in the config file (env LNX_PROFILE).")
]
UrlOpt = Annotated[str | None, typer.Option("--url", help="Exchange base URL (env LNX_URL).")]
TokenOpt = Annotated[str | None, typer.Option("--token", help="API token (env LNX_TOKEN).")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="CSV output (RFC 4180), as the server renders it.")]


@contextmanager
def _client(profile: str | None, url: str | None, token: str | None) -> Iterator[Client]:
    """A client for the resolved profile; API and connection errors become a message and exit 1."""
    try:
        settings = lnx_config.resolve_profile(profile, url=url, token=token)
    except KeyError as exc:
        fail(str(exc.args[0]))
        raise
    if not settings.token:
        fail("an API token is needed: --token, LNX_TOKEN or a profile")
    try:
        with Client(settings.url, settings.token) as client:
            yield client
    except LnxApiError as exc:
        fail(f"{exc.status} {exc.title}: {exc.detail}")
    except LnxClientError as exc:
        fail(str(exc))


def _csv(client: Client, path: str, params: dict[str, Any]) -> str:
    return client.request(Call("GET", path, lambda r: r.text, params=params, headers={"Accept": "text/csv"}))


def _print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """A rich table; piped or captured output is not squeezed into 80 columns (reports are wide)."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    console.print(table)


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


@report_app.command("compliance")
def compliance(
    year: Annotated[int, typer.Option("--year", help="The year reported on.")],
    regime: Annotated[str | None, typer.Option("--regime", help="One regime (default: all in view).")] = None,
    profile: ProfileOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Per regime and member state: declaration, launches declared vs. on record, findings, acks."""
    if as_json and as_csv:
        fail("--json and --csv exclude each other")
    with _client(profile, url, token) as client:
        if as_csv:
            typer.echo(_csv(client, "/v1/reports/compliance", {"year": year, "regime": regime}), nl=False)
            return
        body = client.compliance_report(year, regime)
    if as_json:
        print_json(body)
        return
    rows = []
    for row in body["rows"]:
        launches, acks = row["launches"], row["acknowledgements"]
        median = acks["median_seconds"]
        rows.append(
            [
                row["regime"],
                row["state"],
                row["access"],
                row["declaration"]["status"],
                f"{launches['declared']}/{launches['notified']}/{launches['reported']}",
                _yes_no(launches["consistent"]),
                row["unannounced"]["count"],
                row["findings"]["notifications"],
                f"{acks['received']}/{acks['expected']}",
                "" if median is None else f"{median:.1f} s",
            ]
        )
    _print_table(
        f"Compliance {body['year']} (as seen by {body['viewer']})",
        [
            "regime",
            "state",
            "access",
            "declaration",
            "declared/notified/reported",
            "consistent",
            "unannounced",
            "with findings",
            "acks",
            "median ack",
        ],
        rows,
    )


@report_app.command("upcoming")
def upcoming(
    days: Annotated[int, typer.Option("--days", min=1, max=90, help="How far ahead to look.")] = 7,
    profile: ProfileOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Launch windows open now or opening within --days, and notifications overdue a post-launch report."""
    if as_json and as_csv:
        fail("--json and --csv exclude each other")
    with _client(profile, url, token) as client:
        if as_csv:
            typer.echo(_csv(client, "/v1/reports/upcoming", {"days": days}), nl=False)
            return
        body = client.upcoming_report(days)
    if as_json:
        print_json(body)
        return
    columns = ["id", "issuer", "regime", "class", "window start", "window end", "status", "launch area"]

    def cells(window: dict[str, Any]) -> list[Any]:
        return [
            window["id"],
            window["issuer"],
            window["regime"],
            window["generic_class"],
            window["window_start"],
            window["window_end"],
            window["status"],
            window["launch_area"],
        ]

    _print_table(
        f"Launch windows in the next {body['days']} days", columns, [cells(w) for w in body["windows"]]
    )
    if body["overdue_post_launch"]:
        _print_table("Overdue post-launch reports", columns, [cells(w) for w in body["overdue_post_launch"]])


def register(app: typer.Typer) -> None:
    """Called by ``app.cli.main``: adds ``lnx report``."""
    app.add_typer(report_app, name="report")
