"""The console over HTTP (no browser): sign-in, cookie flags, CSRF refusals, visibility, acknowledging,
receipts and their server-side verification, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from lnx_client.core.entry import entry_bytes
from lnx_client.core.note import Verifier
from lnx_client.core.tlogproof import verify_tlog_proof

from app.console import assets
from app.console.session import SESSION_COOKIE
from tests.console import support
from tests.console.support import World, csrf_of, sign_in
from tests.documents import builders
from tests.fixtures import Exchange

CONSOLE = Path(__file__).resolve().parents[2] / "app" / "console"


@pytest.fixture
def world(exchange: Exchange) -> World:
    return support.seed(exchange)


def _set_cookie_headers(response) -> list[str]:  # type: ignore[no-untyped-def]
    return response.headers.get_list("set-cookie")


def _session_cookie_header(response) -> str:  # type: ignore[no-untyped-def]
    [header] = [h for h in _set_cookie_headers(response) if h.startswith(f"{SESSION_COOKIE}=")]
    return header


def _signed_in(world: World, token: str) -> str:
    """Sign ``world.client`` in with ``token``; the CSRF token of the session's forms."""
    world.client.cookies.clear()
    response = sign_in(world.client, token)
    assert response.status_code == 303, response.text
    page = world.client.get("/console/")
    assert page.status_code == 200
    return csrf_of(page.text)


# ------------------------------------------------------------------ signing in, cookies


def test_pages_send_the_signed_out_to_the_sign_in_page(client) -> None:  # type: ignore[no-untyped-def]
    for path in (
        "/console/",
        "/console/documents",
        "/console/documents/IND-2026-0001",
        "/console/compliance",
    ):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/console/login?next=")
    assert client.get("/console/api/geojson").status_code == 401
    assert client.get("/console", follow_redirects=False).headers["location"] == "/console/"


def test_the_session_cookie_is_httponly_strict_and_secure_behind_tls(world: World) -> None:
    response = sign_in(world.client, world.pak.token)
    assert response.status_code == 303 and response.headers["location"] == "/console/"
    header = _session_cookie_header(response).lower()
    assert "httponly" in header and "samesite=strict" in header and "path=/console" in header
    assert "secure" not in header.split(";")[1:].__str__()
    assert world.pak.token not in response.headers.get("set-cookie", "")

    world.client.cookies.clear()
    proxied = sign_in(world.client, world.pak.token, **{"X-Forwarded-Proto": "https"})
    flags = [f.strip() for f in _session_cookie_header(proxied).lower().split(";")]
    assert "secure" in flags and "httponly" in flags and "samesite=strict" in flags


def test_a_wrong_token_is_refused_on_the_form(world: World) -> None:
    response = sign_in(world.client, "lnx_not-a-real-token")
    assert response.status_code == 401
    assert 'id="login-error"' in response.text
    assert SESSION_COOKIE not in world.client.cookies


@pytest.mark.parametrize("csrf", [None, "wrong", "from-another-form"])
def test_sign_in_without_its_csrf_token_is_refused(world: World, csrf: str | None) -> None:
    world.client.get("/console/login")
    if csrf == "from-another-form":
        other = world.client.get("/console/login")  # a new pre-session nonce replaces the first
        csrf = csrf_of(other.text)
        world.client.cookies.set("lnx_console_login", "forged-nonce", path="/console")
    data = {"token": world.pak.token} | ({"csrf_token": csrf} if csrf else {})
    response = world.client.post("/console/login", data=data, follow_redirects=False)
    assert response.status_code == 403
    assert SESSION_COOKIE not in world.client.cookies


@pytest.mark.parametrize("csrf", [None, "", "wrong"])
def test_sign_out_without_the_sessions_csrf_token_is_refused(world: World, csrf: str | None) -> None:
    _signed_in(world, world.pak.token)
    data = {} if csrf is None else {"csrf_token": csrf}
    response = world.client.post("/console/logout", data=data, follow_redirects=False)
    assert response.status_code == 403
    assert world.client.get("/console/", follow_redirects=False).status_code == 200  # still signed in


def test_a_csrf_token_of_another_session_is_refused(world: World) -> None:
    other_csrf = _signed_in(world, world.ind.token)
    _signed_in(world, world.pak.token)
    response = world.client.post("/console/logout", data={"csrf_token": other_csrf}, follow_redirects=False)
    assert response.status_code == 403


def test_a_form_sent_from_another_site_is_refused(world: World) -> None:
    csrf = _signed_in(world, world.pak.token)
    response = world.client.post(
        "/console/logout",
        data={"csrf_token": csrf},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_sign_out_clears_the_cookie(world: World) -> None:
    csrf = _signed_in(world, world.pak.token)
    response = world.client.post("/console/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console/login"
    cleared = _session_cookie_header(response).lower()
    assert "max-age=0" in cleared or "expires=thu, 01 jan 1970" in cleared
    assert world.client.get("/console/", follow_redirects=False).status_code == 303


def test_a_tampered_cookie_or_a_revoked_token_ends_the_session(world: World) -> None:
    _signed_in(world, world.pak.token)
    good = world.client.cookies[SESSION_COOKIE]
    mid = len(good) // 2  # a middle character always carries ciphertext bits
    tampered = good[:mid] + ("A" if good[mid] != "A" else "B") + good[mid + 1 :]
    world.client.cookies.set(SESSION_COOKIE, tampered, path="/console")
    response = world.client.get("/console/", follow_redirects=False)
    assert response.status_code == 303
    assert (
        f'{SESSION_COOKIE}=""' in response.headers["set-cookie"]
        or "Max-Age=0" in response.headers["set-cookie"]
    )

    world.client.cookies.set(SESSION_COOKIE, good, path="/console")
    assert world.client.get("/console/", follow_redirects=False).status_code == 200
    tokens = world.client.get(
        "/v1/tokens", params={"participant": "PAK"}, headers=world.exchange.operator.headers
    )
    assert tokens.status_code == 200, tokens.text
    for token in tokens.json():
        r = world.client.post(f"/v1/tokens/{token['id']}/revoke", headers=world.exchange.operator.headers)
        assert r.status_code == 200, r.text
    assert world.client.get("/console/", follow_redirects=False).status_code == 303


# ------------------------------------------------------------------ pages and visibility


def test_pages_carry_a_same_origin_content_security_policy(world: World) -> None:
    _signed_in(world, world.pak.token)
    for path in (
        "/console/",
        f"/console/documents/{world.ind_hcoc}",
        "/console/documents",
        "/console/compliance",
    ):
        response = world.client.get(path)
        assert response.status_code == 200, path
        policy = response.headers["content-security-policy"]
        assert (
            "default-src 'none'" in policy
            and "connect-src 'self'" in policy
            and "script-src 'self'" in policy
        )
        assert response.headers["cache-control"] == "no-store"
        assert "<script>" not in response.text and " style=" not in response.text


def test_nothing_the_browser_loads_names_an_outside_host() -> None:
    svg_namespace = "http://www.w3.org/2000/svg"
    for path in [*CONSOLE.joinpath("templates").glob("*.html"), *CONSOLE.joinpath("static").glob("*.[jc]s*")]:
        text = path.read_text(encoding="utf-8").replace(svg_namespace, "")
        assert not re.search(r"https?://|//[a-z0-9-]+\.[a-z]", text, re.IGNORECASE), path
    land = assets.get("land-110m.json")
    assert land is not None and land.body.startswith(b'{"type":"Topology"')


def test_static_files_are_served_with_their_types_and_nothing_else(client) -> None:  # type: ignore[no-untyped-def]
    for name, media_type in assets.FILES.items():
        response = client.get(assets.url_for(name))
        assert response.status_code == 200 and response.headers["content-type"] == media_type
        assert "immutable" in response.headers["cache-control"]
        again = client.get(assets.url_for(name), headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304
    for name in ("../router.py", "..%2Frouter.py", "__init__.py", "missing.js"):
        assert client.get(f"/console/static/{name}").status_code == 404


def test_the_overview_lists_the_readable_windows_of_the_next_30_days(world: World) -> None:
    _signed_in(world, world.pak.token)
    html = world.client.get("/console/").text
    for document_id in (world.ind_hcoc, world.fra_hcoc, world.bilateral):
        assert f'<rect class="window-bar status-scheduled" data-document-id="{document_id}"' in html
    assert world.later not in html  # beyond 30 days: on the map, not on the timeline
    areas = world.client.get("/console/api/geojson").json()
    ids = {f["properties"]["document_id"] for f in areas["features"]}
    assert ids == {world.ind_hcoc, world.fra_hcoc, world.bilateral, world.later}


def test_a_third_state_never_sees_the_bilateral_notification(world: World) -> None:
    _signed_in(world, world.fra.token)
    for path in ("/console/", "/console/documents", "/console/api/geojson", "/console/compliance"):
        response = world.client.get(path)
        assert response.status_code == 200, path
        assert world.bilateral not in response.text, path
    for path in (
        f"/console/documents/{world.bilateral}",
        f"/console/api/documents/{world.bilateral}/receipt",
        f"/console/api/documents/{world.bilateral}/verification",
    ):
        assert world.client.get(path).status_code == 404, path
    missing = world.client.get("/console/documents/IND-2026-9999")
    hidden = world.client.get(f"/console/documents/{world.bilateral}")
    assert missing.text.replace("IND-2026-9999", "X") == hidden.text.replace(world.bilateral, "X")


def test_an_auditor_not_entrusted_sees_log_metadata_only(world: World) -> None:
    _signed_in(world, world.research.token)
    html = world.client.get(f"/console/documents/{world.bilateral}").text
    assert "Log metadata only" in html
    assert "Inland range" not in html and 'id="payload"' not in html and 'id="jws"' not in html
    receipt = world.client.get(f"/console/api/documents/{world.bilateral}/receipt").json()
    assert receipt["jws"] is None and receipt["proof"].startswith("c2sp.org/tlog-proof@v1")
    assert world.client.get(f"/console/api/documents/{world.bilateral}/verification").json()["verified"]
    assert world.bilateral not in world.client.get("/console/").text  # no content, so no window


def test_the_document_page_shows_status_signature_log_and_acknowledgements(world: World) -> None:
    _signed_in(world, world.pak.token)
    html = world.client.get(f"/console/documents/{world.bilateral}").text
    assert 'class="badge status-scheduled"' in html
    assert '<span class="ok">valid</span>' in html and world.ind.kid in html
    assert '<li data-participant="PAK" class="pending">' in html
    assert 'id="ack-form"' in html and 'data-references="' + world.bilateral + '"' in html
    assert 'id="verify-browser"' in html and 'id="verify-api"' in html

    _signed_in(world, world.ind.token)
    own = world.client.get(f"/console/documents/{world.bilateral}").text
    assert 'id="ack-form"' not in own  # an issuer does not acknowledge its own document


def test_the_receipt_verifies_on_the_server_and_with_the_pure_core(world: World) -> None:
    _signed_in(world, world.pak.token)
    result = world.client.get(f"/console/api/documents/{world.ind_hcoc}/verification").json()
    assert result["verified"] is True and result["checkpoint"]["origin"] == "lnx.test/log"
    receipt = world.client.get(f"/console/api/documents/{world.ind_hcoc}/receipt").json()
    vkey = world.client.get("/v1/log/key").text
    leaf = entry_bytes(receipt["jws"], datetime.fromisoformat(receipt["entry_time"].replace("Z", "+00:00")))
    checkpoint = verify_tlog_proof(receipt["proof"], leaf, Verifier.from_vkey(vkey), origin="lnx.test/log")
    assert checkpoint.size > receipt["log_index"]


# ------------------------------------------------------------------ acknowledging


def test_an_acknowledgement_goes_through_the_submission_path(world: World, tmp_path: Path) -> None:
    csrf = _signed_in(world, world.pak.token)
    url = f"/console/documents/{world.bilateral}/acknowledge"
    payload = support.acknowledgement(world.pak, world.bilateral, "IND", regime="in-pk-2005")
    jws = support.lnx_sign(world.pak, payload, tmp_path)

    refused = world.client.post(url, data={"jws": jws}, follow_redirects=False)
    assert refused.status_code == 403  # no CSRF token: nothing submitted
    assert world.client.get(f"/v1/documents/{payload['id']}", headers=world.pak.headers).status_code == 404

    accepted = world.client.post(url, data={"jws": jws, "csrf_token": csrf})
    assert accepted.status_code == 201, accepted.text
    assert "Acknowledgement accepted" in accepted.text and "c2sp.org/tlog-proof@v1" in accepted.text
    stored = world.client.get(f"/v1/documents/{world.bilateral}", headers=world.ind.headers).json()
    assert [a["id"] for a in stored["acknowledgements"]] == [payload["id"]]

    again = world.client.post(url, data={"jws": jws, "csrf_token": csrf})
    assert again.status_code == 200 and "already on record" in again.text
    page = world.client.get(f"/console/documents/{world.bilateral}").text
    assert '<li data-participant="PAK" class="acked">' in page and 'id="ack-form"' not in page


def test_the_form_of_one_document_does_not_acknowledge_another(world: World) -> None:
    csrf = _signed_in(world, world.pak.token)
    other = builders.sign(world.pak, support.acknowledgement(world.pak, world.fra_hcoc, "FRA"))
    response = world.client.post(
        f"/console/documents/{world.ind_hcoc}/acknowledge", data={"jws": other, "csrf_token": csrf}
    )
    assert response.status_code == 422 and 'id="ack-error"' in response.text
    assert f"acknowledges {world.fra_hcoc}, not {world.ind_hcoc}" in response.text

    broken = world.client.post(
        f"/console/documents/{world.ind_hcoc}/acknowledge", data={"jws": "not.a.jws", "csrf_token": csrf}
    )
    assert broken.status_code == 422 and 'id="ack-error"' in broken.text


def test_the_compliance_page_shows_the_reports_rows(world: World) -> None:
    _signed_in(world, world.pak.token)
    response = world.client.get("/console/compliance", params={"year": 2026})
    assert response.status_code == 200
    assert 'id="compliance"' in response.text and 'data-state="PAK"' in response.text
    assert world.client.get("/console/compliance", params={"year": 1900}).status_code == 422
