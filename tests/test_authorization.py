"""The authorisation table: every protected endpoint x every role x with and without the right scope."""

from __future__ import annotations

import pytest
from lnx_client.core import jwk as core_jwk

ROLES = ("state", "observer", "auditor", "operator")
ALL = ROLES

# (method, path, body, scope needed, roles allowed). Paths use real codes created by the fixture,
# so an allowed call reaches the service and answers something other than 401/403.
ENDPOINTS: list[tuple[str, str, object, str, tuple[str, ...]]] = [
    ("GET", "/v1/participants", None, "read", ALL),
    ("GET", "/v1/participants/ARG", None, "read", ALL),
    (
        "POST",
        "/v1/participants",
        {"code": "ZZZ_ORG", "name": "x", "role": "observer"},
        "admin",
        ("operator",),
    ),
    ("PATCH", "/v1/participants/ARG", {"name": "renamed"}, "admin", ("operator",)),
    ("POST", "/v1/participants/ARG/deactivate", None, "admin", ("operator",)),
    ("GET", "/v1/participants/ARG/keys", None, "read", ALL),
    ("POST", "/v1/participants/ARG/keys", "NEW_KEY", "admin", ("operator",)),
    ("GET", "/v1/tokens", None, "admin", ("operator",)),
    ("POST", "/v1/tokens", {"participant": "ARG", "scopes": ["read"]}, "admin", ("operator",)),
    ("POST", "/v1/tokens/tok_doesnotexist/revoke", None, "admin", ("operator",)),
    ("GET", "/v1/regimes", None, "read", ALL),
    ("GET", "/v1/regimes/hcoc", None, "read", ALL),
    ("PATCH", "/v1/regimes/hcoc", {"description": "x"}, "admin", ("operator",)),
    ("POST", "/v1/regimes/hcoc/members", {"participant": "ABW"}, "admin", ("operator",)),
    ("DELETE", "/v1/regimes/hcoc/members/ABW", None, "admin", ("operator",)),
    ("POST", "/v1/regimes/hcoc/auditors", {"participant": "AUD_X"}, "admin", ("operator",)),
    ("DELETE", "/v1/regimes/hcoc/auditors/AUD_X", None, "admin", ("operator",)),
    ("GET", "/v1/documents", None, "read", ALL),
    ("GET", "/v1/documents/ARG-2026-1", None, "read", ALL),
    ("GET", "/v1/documents.geojson", None, "read", ALL),
    ("POST", "/v1/documents", {"jws": "a.b.c"}, "submit", ("state", "observer")),
]

ACTOR_CODES = {"state": "ARG", "observer": "OBS_X", "auditor": "AUD_X", "operator": "ICC"}
SCOPES_WITHOUT = {"read": "submit", "submit": "read", "admin": "read"}


@pytest.fixture
def world(exchange):
    """One participant per role, each with a full-scope and a one-scope token."""
    ex = exchange
    ex.add("ARG", "state", regimes=("hcoc",))
    ex.add("ABW", "state")
    ex.add("OBS_X", "observer", key=None)
    ex.add("AUD_X", "auditor", key=None, scopes="read")
    tokens = {}
    for role, code in ACTOR_CODES.items():
        for scope in ("read", "submit", "admin"):
            if scope == "admin" and role != "operator":
                continue
            r = ex.client.post(
                "/v1/tokens", json={"participant": code, "scopes": [scope]}, headers=ex.operator.headers
            )
            assert r.status_code == 201, r.text
            tokens[(role, scope)] = r.json()["token"]
    return ex, tokens


def _body(body: object) -> object:
    if body == "NEW_KEY":
        return {"jwk": core_jwk.public_jwk_from_private(core_jwk.generate_private_jwk("Ed25519"))}
    return body


@pytest.mark.parametrize(
    "method,path,body,scope,roles", ENDPOINTS, ids=[f"{m} {p}" for m, p, *_ in ENDPOINTS]
)
def test_authorisation_table(world, method, path, body, scope, roles):
    ex, tokens = world
    client = ex.client
    # Without a token: 401 with a WWW-Authenticate challenge.
    r = client.request(method, path, json=_body(body))
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.headers["content-type"] == "application/problem+json"
    # With a garbage token: 401.
    r = client.request(method, path, json=_body(body), headers={"Authorization": "Bearer lnx_not-a-token"})
    assert r.status_code == 401
    for role in ROLES:
        right = tokens.get((role, scope))
        wrong = tokens[(role, SCOPES_WITHOUT[scope])]
        r = client.request(method, path, json=_body(body), headers={"Authorization": f"Bearer {wrong}"})
        assert r.status_code == 403, (role, "wrong scope", r.text)
        if right is None:
            continue  # e.g. a state cannot even hold an admin token
        r = client.request(method, path, json=_body(body), headers={"Authorization": f"Bearer {right}"})
        if role in roles:
            assert r.status_code not in (401, 403), (role, r.status_code, r.text)
        else:
            assert r.status_code == 403, (role, r.status_code, r.text)
            assert r.headers["content-type"] == "application/problem+json"


def test_public_endpoints_need_no_token(client):
    for path in ("/healthz", "/readyz", "/openapi.json", "/v1/log/checkpoint", "/v1/log/key"):
        assert client.get(path).status_code == 200, path
