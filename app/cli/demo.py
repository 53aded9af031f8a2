"""Demo data: an operator, five states, an observer and two auditors with keys, tokens and regimes.

Idempotent: a second ``lnx demo`` on the same data directory reuses what is there, so the printed
tokens keep working. Private keys and tokens are written to the data directory with mode 0600.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lnx_client.core import jwk as core_jwk
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.config import Settings
from app.db import make_engine, make_sessionmaker, session_scope
from app.participants import repository as participants_repository
from app.participants import service as participants_service
from app.participants.schemas import ParticipantCreate
from app.regimes import repository as regimes_repository
from app.regimes import service as regimes_service

__all__ = ["DEMO_PARTICIPANTS", "DEMO_MEMBERSHIPS", "seed", "print_summary", "DemoSummary"]

DEMO_PARTICIPANTS: list[tuple[str, str, str]] = [
    ("ICC", "Immediate Central Contact (HCoC executive secretariat)", "operator"),
    ("USA", "United States of America — NRRC", "state"),
    ("RUS", "Russian Federation — NRRC", "state"),
    ("IND", "India — Ministry of External Affairs", "state"),
    ("PAK", "Pakistan — Ministry of Foreign Affairs", "state"),
    ("FRA", "France — Ministère de l'Europe et des Affaires étrangères", "state"),
    ("CHN", "China — Ministry of Foreign Affairs", "state"),
    ("ICAO_APAC", "ICAO Asia/Pacific office (aviation warnings)", "observer"),
    ("HCOC_AUDIT", "HCoC secretariat's auditor", "auditor"),
    ("RESEARCH", "Arms-control research group (public log auditor)", "auditor"),
]

DEMO_MEMBERSHIPS: dict[str, list[str]] = {
    "hcoc": ["USA", "RUS", "IND", "FRA", "ICAO_APAC"],
    "us-ru-1988": ["USA", "RUS"],
    "in-pk-2005": ["IND", "PAK"],
    "cn-ru-2009": ["CHN", "RUS"],
}
DEMO_AUDITORS: dict[str, list[str]] = {"hcoc": ["HCOC_AUDIT"], "us-ru-1988": ["HCOC_AUDIT"]}


@dataclass
class DemoSummary:
    tokens: dict[str, str] = field(default_factory=dict)
    key_files: dict[str, str] = field(default_factory=dict)
    documents: list[str] = field(default_factory=list)


def _write_secret(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)


def _seed_participants(session: Session, data_dir: Path, summary: DemoSummary) -> None:
    tokens_file = data_dir / "demo-tokens.json"
    tokens: dict[str, str] = json.loads(tokens_file.read_text()) if tokens_file.exists() else {}
    for code, name, role in DEMO_PARTICIPANTS:
        if participants_repository.get_participant(session, code) is None:
            participants_service.add_participant(session, ParticipantCreate(code=code, name=name, role=role))  # type: ignore[arg-type]
        key_file = data_dir / "keys" / f"{code}.jwk.json"
        if role in ("state", "observer", "operator"):
            if not key_file.exists():
                private = core_jwk.generate_private_jwk("Ed25519")
                _write_secret(
                    key_file,
                    {**private, "kid": core_jwk.thumbprint(core_jwk.public_jwk_from_private(private))},
                )
            private = json.loads(key_file.read_text())
            public = core_jwk.public_jwk_from_private(private)
            if participants_repository.get_key(session, core_jwk.thumbprint(public)) is None:
                participants_service.register_key(session, code, public)
            summary.key_files[code] = str(key_file)
        if code not in tokens:
            scopes = {"operator": "read,admin", "state": "read,submit", "observer": "read,submit"}.get(
                role, "read"
            )
            tokens[code] = auth_service.issue_token(session, code, scopes, description="demo").token
    _write_secret(tokens_file, tokens)
    summary.tokens = tokens


def _seed_regimes(session: Session) -> None:
    for regime_id, codes in DEMO_MEMBERSHIPS.items():
        current = set(regimes_repository.member_codes(session, regime_id))
        for code in codes:
            if code not in current:
                regimes_service.join(session, regime_id, code)
    for regime_id, codes in DEMO_AUDITORS.items():
        current = set(regimes_repository.auditor_codes(session, regime_id))
        for code in codes:
            if code not in current:
                regimes_service.add_auditor(session, regime_id, code)


def seed(settings: Settings, base_url: str = "") -> DemoSummary:
    summary = DemoSummary()
    engine = make_engine(settings.resolved_database_url, pool_size=1)
    try:
        factory = make_sessionmaker(engine)
        for session in session_scope(factory):
            regimes_service.ensure_shipped_regimes(session)
            _seed_participants(session, settings.data_dir, summary)
            _seed_regimes(session)
        try:
            from app.cli import demo_documents
        except ModuleNotFoundError:
            demo_documents = None  # type: ignore[assignment]
        if demo_documents is not None:
            summary.documents = demo_documents.seed_documents(settings, factory, summary.key_files)
    finally:
        engine.dispose()
    return summary


def print_summary(summary: DemoSummary, url: str) -> None:
    """Plain lines, not a table: tokens must be copyable whatever the terminal's width."""
    from rich.console import Console

    console = Console(soft_wrap=True)
    console.print(f"[bold]Launch Notification Exchange demo[/bold] at [cyan]{url}[/cyan]\n")
    roles = {code: role for code, _name, role in DEMO_PARTICIPANTS}
    console.print("[bold]participants, their tokens and private keys[/bold]")
    for code, token in summary.tokens.items():
        key = summary.key_files.get(code, "-")
        console.print(f"  {code:<11} {roles.get(code, ''):<9} {token}  {key}")
    if summary.documents:
        console.print(f"\nsample documents: {', '.join(sorted(summary.documents))}")
    operator = summary.tokens.get("ICC", "")
    state = summary.tokens.get("IND", "")
    console.print(f"\nready token (operator ICC): [green]{operator}[/green]")
    console.print(f"ready token (state IND):    [green]{state}[/green]")
    console.print(f"web console: {url}/console/ (sign in with a token above)")
    console.print(f"try: curl -H 'Authorization: Bearer {state}' {url}/v1/documents")
    print(f"LNX_URL={url}")
    print(f"LNX_TOKEN={operator}", flush=True)
