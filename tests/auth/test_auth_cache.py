"""The short-lived authentication cache, through HTTP against a real database.

What must never lag (checked on every request, from the cached record or by emptying the cache
in the process that made the change): revocation and deactivation made through this process,
expiry, scopes and roles. What may lag by up to ``auth_cache_ttl_s``: a change written to the
database by something that is not a SQLAlchemy session of this process (another server
process; here, a bare connection).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.documents.builders import pre_launch, submit
from tests.fixtures import Exchange, execute_sql


def _get(exchange: Exchange, token: str, path: str = "/v1/participants") -> Any:
    return exchange.client.get(path, headers={"Authorization": f"Bearer {token}"})


def _issue(exchange: Exchange, code: str, scopes: list[str], **body: Any) -> dict[str, Any]:
    r = exchange.client.post(
        "/v1/tokens", json={"participant": code, "scopes": scopes, **body}, headers=exchange.operator.headers
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_a_revoked_token_is_refused_at_once_even_when_cached(exchange: Exchange) -> None:
    exchange.add("IND")
    issued = _issue(exchange, "IND", ["read"])
    for _ in range(3):  # looked up once, then served from the cache
        assert _get(exchange, issued["token"]).status_code == 200
    r = exchange.client.post(f"/v1/tokens/{issued['id']}/revoke", headers=exchange.operator.headers)
    assert r.status_code == 200
    r = _get(exchange, issued["token"])
    assert r.status_code == 401 and r.json()["type"] == "urn:lnx:problem:invalid-token"


def test_a_deactivated_participant_is_refused_at_once_even_when_cached(exchange: Exchange) -> None:
    ind = exchange.add("IND")
    assert _get(exchange, ind.token).status_code == 200
    r = exchange.client.post("/v1/participants/IND/deactivate", headers=exchange.operator.headers)
    assert r.status_code == 200, r.text
    r = _get(exchange, ind.token)
    assert r.status_code == 401 and "deactivated" in r.json()["detail"]


def test_expiry_is_checked_on_every_request_against_the_cached_record(exchange: Exchange) -> None:
    exchange.add("IND")
    issued = _issue(exchange, "IND", ["read"], expires_in_days=2 / 86400)  # two seconds
    assert _get(exchange, issued["token"]).status_code == 200  # now cached for 300 s
    expires = datetime.fromisoformat(issued["expires_at"])
    while datetime.now(UTC) <= expires + timedelta(milliseconds=50):
        time.sleep(0.1)
    r = _get(exchange, issued["token"])
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_scopes_and_roles_are_checked_for_a_cached_principal(exchange: Exchange) -> None:
    exchange.add("IND", regimes=("hcoc",))
    reader = _issue(exchange, "IND", ["read"])
    assert _get(exchange, reader["token"], "/v1/documents").status_code == 200  # cached now
    headers = {"Authorization": f"Bearer {reader['token']}"}
    r = exchange.client.post(
        "/v1/documents", content=b"x", headers={**headers, "content-type": "application/jose"}
    )
    assert r.status_code == 403 and r.json()["type"] == "urn:lnx:problem:scope-not-allowed"
    r = exchange.client.post(
        "/v1/participants", json={"code": "PAK", "name": "P", "role": "state"}, headers=headers
    )
    assert r.status_code == 403


def test_a_change_made_outside_this_process_waits_for_the_ttl(exchange: Exchange, settings: Any) -> None:
    """The trade-off of docs/decisions.md: another process's revocation lands within the TTL."""
    exchange.add("IND")
    issued = _issue(exchange, "IND", ["read"])
    assert _get(exchange, issued["token"]).status_code == 200
    execute_sql(
        settings,
        "UPDATE api_tokens SET revoked_at = :now WHERE id = :id",
        now=datetime.now(UTC),
        id=issued["id"],
    )
    assert _get(exchange, issued["token"]).status_code == 200  # trusted for up to 300 s here


@pytest.mark.auth_settings(auth_cache_ttl_s=0)
def test_without_the_cache_every_request_reads_the_database(exchange: Exchange, settings: Any) -> None:
    exchange.add("IND")
    issued = _issue(exchange, "IND", ["read"])
    assert _get(exchange, issued["token"]).status_code == 200
    execute_sql(
        settings,
        "UPDATE api_tokens SET revoked_at = :now WHERE id = :id",
        now=datetime.now(UTC),
        id=issued["id"],
    )
    assert _get(exchange, issued["token"]).status_code == 401


def test_a_cached_token_still_records_its_use(exchange: Exchange) -> None:
    exchange.add("IND")
    issued = _issue(exchange, "IND", ["read"])
    assert issued["last_used_at"] is None
    for _ in range(3):
        assert _get(exchange, issued["token"]).status_code == 200
    listed = exchange.client.get(
        "/v1/tokens", params={"participant": "IND"}, headers=exchange.operator.headers
    )
    [token] = [t for t in listed.json() if t["id"] == issued["id"]]
    assert token["last_used_at"] is not None


def test_the_feed_answers_a_poll_at_the_head_from_the_cache(exchange: Exchange) -> None:
    """The hot path: a cached token and an up-to-date cursor; a new document shows at once."""
    ind = exchange.add("IND", regimes=("hcoc",))
    pak = exchange.add("PAK", regimes=("hcoc",))
    head = exchange.client.get("/v1/feed", params={"after": "latest"}, headers=pak.headers).json()["next"]
    for _ in range(3):
        page = exchange.client.get("/v1/feed", params={"after": head}, headers=pak.headers).json()
        assert page == {"events": [], "next": head}
    payload = pre_launch("IND")
    assert submit(exchange.client, ind, payload).status_code == 201
    page = exchange.client.get("/v1/feed", params={"after": head}, headers=pak.headers).json()
    assert [e["subject"] for e in page["events"]] == [payload["id"]]
