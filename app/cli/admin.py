"""`lnx admin ...`: operator commands working directly on the database (scriptable, ``--json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from app.auth import service as auth_service
from app.cli.common import (
    DatabaseUrlOpt,
    DataDirOpt,
    JsonOpt,
    apply_server_options,
    db_session,
    fail,
    print_json,
    print_table,
    run_service,
)
from app.participants import repository as participants_repository
from app.participants import service as participants_service
from app.participants.schemas import ParticipantCreate, ParticipantUpdate
from app.regimes import repository as regimes_repository
from app.regimes import service as regimes_service

admin_app = typer.Typer(help="Operator commands: participants, keys, tokens, regimes.", no_args_is_help=True)
participant_app = typer.Typer(help="Participants (never deleted).", no_args_is_help=True)
key_app = typer.Typer(help="Participants' public signing keys.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
regime_app = typer.Typer(help="Regimes and their members and auditors.", no_args_is_help=True)
admin_app.add_typer(participant_app, name="participant")
admin_app.add_typer(key_app, name="key")
admin_app.add_typer(token_app, name="token")
admin_app.add_typer(regime_app, name="regime")


def _participant_dict(p) -> dict:  # type: ignore[no-untyped-def]
    return {
        "code": p.code,
        "name": p.name,
        "role": p.role,
        "active": p.active,
        "contact": p.contact,
        "created_at": p.created_at,
        "deactivated_at": p.deactivated_at,
    }


@participant_app.command("add")
def participant_add(
    code: str,
    name: Annotated[str, typer.Option(help="Display name.")],
    role: Annotated[str, typer.Option(help="state | observer | auditor | operator")],
    contact: Annotated[str | None, typer.Option(help="Contact address.")] = None,
    database_url: DatabaseUrlOpt = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a participant."""
    settings = apply_server_options(database_url, data_dir)
    if role not in ("state", "observer", "auditor", "operator"):
        fail("role must be one of state, observer, auditor, operator")
    with db_session(settings) as session:
        body = ParticipantCreate(code=code, name=name, role=role, contact=contact)  # type: ignore[arg-type]
        participant = run_service(participants_service.add_participant, session, body)
        out = _participant_dict(participant)
    print_json(out) if as_json else typer.echo(f"added {code} ({role})")


@participant_app.command("list")
def participant_list(
    database_url: DatabaseUrlOpt = None, data_dir: DataDirOpt = None, as_json: JsonOpt = False
) -> None:
    """List participants."""
    settings = apply_server_options(database_url, data_dir)
    with db_session(settings) as session:
        rows = [_participant_dict(p) for p in participants_repository.list_participants(session)]
    if as_json:
        print_json(rows)
    else:
        print_table(
            "Participants",
            ["code", "name", "role", "active"],
            [[r["code"], r["name"], r["role"], r["active"]] for r in rows],
        )


@participant_app.command("show")
def participant_show(code: str, database_url: DatabaseUrlOpt = None, data_dir: DataDirOpt = None) -> None:
    """Show one participant and its keys."""
    settings = apply_server_options(database_url, data_dir)
    with db_session(settings) as session:
        participant = run_service(participants_service.get_participant, session, code)
        out = _participant_dict(participant) | {"keys": participants_service.jwks(session, code)["keys"]}
    print_json(out)


@participant_app.command("update")
def participant_update(
    code: str,
    name: Annotated[str | None, typer.Option()] = None,
    contact: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseUrlOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Change a participant's name or contact."""
    settings = apply_server_options(database_url, data_dir)
    changes = {k: v for k, v in {"name": name, "contact": contact}.items() if v is not None}
    with db_session(settings) as session:
        run_service(participants_service.update_participant, session, code, ParticipantUpdate(**changes))
    typer.echo(f"updated {code}")


@participant_app.command("deactivate")
def participant_deactivate(
    code: str, database_url: DatabaseUrlOpt = None, data_dir: DataDirOpt = None
) -> None:
    """Deactivate a participant (its tokens stop working; nothing is deleted)."""
    settings = apply_server_options(database_url, data_dir)
    with db_session(settings) as session:
        run_service(participants_service.deactivate_participant, session, code)
    typer.echo(f"deactivated {code}")


@key_app.command("add")
def key_add(
    code: str,
    jwk: Annotated[
        Path, typer.Option("--jwk", help="File with the PUBLIC JWK.", exists=True, dir_okay=False)
    ],
    database_url: DatabaseUrlOpt = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a public key; prints its kid (RFC 7638 thumbprint)."""
    settings = apply_server_options(database_url, data_dir)
    try:
        jwk_obj = json.loads(jwk.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"cannot read a JSON JWK from {jwk}: {exc}")
    with db_session(settings) as session:
        key = run_service(participants_service.register_key, session, code, jwk_obj)
        kid = key.kid
    print_json({"participant": code, "kid": kid}) if as_json else typer.echo(kid)


# A kid is a base64url thumbprint: one in 64 begins with "-", which click would take for an option.
@key_app.command("revoke", context_settings={"ignore_unknown_options": True})
def key_revoke(
    code: str,
    kid: Annotated[str, typer.Argument(help="The key's kid (one that begins with '-' is fine).")],
    reason: Annotated[str, typer.Option(help="Why the key is revoked.")],
    database_url: DatabaseUrlOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Revoke a key; documents logged before the revocation stay valid."""
    settings = apply_server_options(database_url, data_dir)
    with db_session(settings) as session:
        run_service(participants_service.revoke_key, session, code, kid, reason)
    typer.echo(f"revoked {kid}")


@key_app.command("list")
def key_list(code: str, database_url: DatabaseUrlOpt = None, data_dir: DataDirOpt = None) -> None:
    """A participant's keys as a JWK Set."""
    settings = apply_server_options(database_url, data_dir)
    with db_session(settings) as session:
        print_json(run_service(participants_service.jwks, session, code))


@token_app.command("issue")
def token_issue(
    code: str,
    scope: Annotated[str, typer.Option(help="Comma-separated: read,submit[,admin].")] = "read",
    expires_in: Annotated[float | None, typer.Option("--expires-in", help="Days until expiry.")] = None,
    description: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseUrlOpt = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Issue a token; it is printed once and only its hash is stored."""
    settings = apply_server_options(database_url, data_dir)
    with db_session(settings) as session:
        issued = run_service(
            auth_service.issue_token,
            session,
            code,
            scope,
            expires_in_days=expires_in,
            description=description,
        )
        out = {
            "id": issued.record.id,
            "participant": code,
            "scopes": issued.record.scopes.split(","),
            "expires_at": issued.record.expires_at,
            "token": issued.token,
        }
    print_json(out) if as_json else typer.echo(issued.token)


@token_app.command("revoke")
def token_revoke(token_id: str, database_url: DatabaseUrlOpt = None, data_dir: DataDirOpt = None) -> None:
    """Revoke a token by its id (tok_...)."""
    settings = apply_server_options(database_url, data_dir)
    with db_session(settings) as session:
        run_service(auth_service.revoke_token, session, token_id)
    typer.echo(f"revoked {token_id}")


@token_app.command("list")
def token_list(
    participant: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseUrlOpt = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Tokens with their scopes, expiry, revocation and last use (never the secret)."""
    settings = apply_server_options(database_url, data_dir)
    with db_session(settings) as session:
        rows = [
            {
                "id": t.id,
                "participant": t.participant_code,
                "scopes": t.scopes,
                "expires_at": t.expires_at,
                "revoked_at": t.revoked_at,
                "last_used_at": t.last_used_at,
            }
            for t in auth_service.list_tokens(session, participant)
        ]
    if as_json:
        print_json(rows)
    else:
        print_table("Tokens", list(rows[0].keys()) if rows else ["id"], [list(r.values()) for r in rows])


@regime_app.command("list")
def regime_list(
    database_url: DatabaseUrlOpt = None, data_dir: DataDirOpt = None, as_json: JsonOpt = False
) -> None:
    """Regimes with their members and auditors."""
    settings = apply_server_options(database_url, data_dir)
    with db_session(settings) as session:
        rows = [
            regimes_service.regime_out(session, r).model_dump(mode="json")
            for r in regimes_repository.list_regimes(session)
        ]
    if as_json:
        print_json(rows)
    else:
        print_table(
            "Regimes",
            ["id", "name", "confidential", "members", "auditors"],
            [
                [r["id"], r["name"], r["confidential"], " ".join(r["members"]), " ".join(r["auditors"])]
                for r in rows
            ],
        )


def _regime_change(
    fn, regime: str, code: str, database_url: str | None, data_dir: Path | None, verb: str
) -> None:  # type: ignore[no-untyped-def]
    settings = apply_server_options(database_url, data_dir)
    with db_session(settings) as session:
        run_service(fn, session, regime, code)
    typer.echo(f"{code} {verb} {regime}")


@regime_app.command("join")
def regime_join(
    regime: str, code: str, database_url: DatabaseUrlOpt = None, data_dir: DataDirOpt = None
) -> None:
    """Make a participant a member of a regime."""
    _regime_change(regimes_service.join, regime, code, database_url, data_dir, "joined")


@regime_app.command("leave")
def regime_leave(
    regime: str, code: str, database_url: DatabaseUrlOpt = None, data_dir: DataDirOpt = None
) -> None:
    """End a participant's membership (history kept)."""
    _regime_change(regimes_service.leave, regime, code, database_url, data_dir, "left")


@regime_app.command("auditor-add")
def regime_auditor_add(
    regime: str, code: str, database_url: DatabaseUrlOpt = None, data_dir: DataDirOpt = None
) -> None:
    """Entrust an auditor with reading the regime's documents in full."""
    _regime_change(regimes_service.add_auditor, regime, code, database_url, data_dir, "audits")


@regime_app.command("auditor-remove")
def regime_auditor_remove(
    regime: str, code: str, database_url: DatabaseUrlOpt = None, data_dir: DataDirOpt = None
) -> None:
    """Withdraw an auditor from a regime."""
    _regime_change(regimes_service.remove_auditor, regime, code, database_url, data_dir, "no longer audits")
