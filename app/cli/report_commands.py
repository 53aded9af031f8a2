"""`lnx report ...`: the compliance report and upcoming windows, read over the HTTP API.

These are client commands (a National Point of Contact or an auditor runs them against an
exchange): they need ``--url`` and ``--token`` (``LNX_URL`` / ``LNX_TOKEN``), never the database,
so that each caller sees exactly what the server lets that token see.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from app.cli.common import JsonOpt, fail, print_json

__all__ = ["register", "report_app"]

report_app = typer.Typer(
    help="Reports: compliance per state and regime, upcoming launch windows.", no_args_is_help=True
)

UrlOpt = Annotated[str, typer.Option("--url", envvar="LNX_URL", help="Base URL of the exchange.")]
TokenOpt = Annotated[str, typer.Option("--token", envvar="LNX_TOKEN", help="API token (read scope).")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="CSV output (RFC 4180), as the server renders it.")]
TIMEOUT_S = 30.0


def _get(url: str, token: str, path: str, params: dict[str, Any], *, csv: bool) -> httpx.Response:
    """GET ``path``; a problem document or a connection failure becomes a clean CLI error."""
    if not token:
        fail("an API token is needed: --token or LNX_TOKEN")
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/csv" if csv else "application/json"}
    try:
        response = httpx.get(url.rstrip("/") + path, params=params, headers=headers, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        fail(f"cannot reach {url}: {exc}")
        raise AssertionError("unreachable") from exc
    if response.status_code >= 400:
        try:
            problem = response.json()
            detail = problem.get("detail") or problem.get("title") or response.reason_phrase
        except ValueError:
            detail = response.reason_phrase
        fail(f"{response.status_code}: {detail}")
    return response


def _emit(response: httpx.Response, as_json: bool, as_csv: bool) -> bool:
    """Print the raw JSON or CSV if asked; ``False`` when a table is wanted."""
    if as_csv:
        typer.echo(response.text, nl=False)
        return True
    if as_json:
        print_json(response.json())
        return True
    return False


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
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
    url: UrlOpt = "http://127.0.0.1:8000",
    token: TokenOpt = "",
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Per regime and member state: declaration, launches declared vs. on record, findings, acks."""
    if as_json and as_csv:
        fail("--json and --csv exclude each other")
    params: dict[str, Any] = {"year": year}
    if regime:
        params["regime"] = regime
    response = _get(url, token, "/v1/reports/compliance", params, csv=as_csv)
    if _emit(response, as_json, as_csv):
        return
    body = response.json()
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
    print_table(
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
    url: UrlOpt = "http://127.0.0.1:8000",
    token: TokenOpt = "",
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Launch windows open now or opening within --days, and notifications overdue a post-launch report."""
    if as_json and as_csv:
        fail("--json and --csv exclude each other")
    response = _get(url, token, "/v1/reports/upcoming", {"days": days}, csv=as_csv)
    if _emit(response, as_json, as_csv):
        return
    body = response.json()
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

    print_table(
        f"Launch windows in the next {body['days']} days", columns, [cells(w) for w in body["windows"]]
    )
    if body["overdue_post_launch"]:
        print_table("Overdue post-launch reports", columns, [cells(w) for w in body["overdue_post_launch"]])


def register(app: typer.Typer) -> None:
    """Called by ``app.cli.main``: adds ``lnx report``."""
    app.add_typer(report_app, name="report")
