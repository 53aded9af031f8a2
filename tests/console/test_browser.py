"""The console in a real browser (Playwright driving Debian's Chromium) against a real server.

A duty officer signs in, finds the demo's upcoming windows on the timeline and as shapes on the
map, opens a document, acknowledges it (WebCrypto Ed25519 in the browser, or a JWS made with
``lnx sign``), verifies the receipt in the browser and via the API, and signs out; a third
state's session never shows the IND→PAK bilateral notification anywhere. Screenshots of the map
and document pages, at laptop and tablet sizes, are saved under ``test-artifacts/console/``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.console.session import SESSION_COOKIE
from tests.console import support
from tests.console.conftest import LAPTOP, TABLET, LiveConsole

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

Pages = Callable[..., Any]
NO_WEBCRYPTO = """
(() => {
  const generateKey = crypto.subtle.generateKey.bind(crypto.subtle);
  crypto.subtle.generateKey = (algorithm, ...rest) => {
    const name = typeof algorithm === "string" ? algorithm : algorithm.name;
    if (name === "Ed25519" || name === "ECDSA") {
      return Promise.reject(new DOMException("not supported here", "NotSupportedError"));
    }
    return generateKey(algorithm, ...rest);
  };
})();
"""


def _sign_in(page: Any, token: str, expect_code: str) -> None:
    page.goto("/console/")
    assert "/console/login" in page.url  # signed out: sent to the sign-in page first
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/")
    assert page.locator("#participant").inner_text() == expect_code


def _wait_map(page: Any, selector: str = "#map") -> None:
    page.wait_for_selector(f'{selector}[data-ready="true"]')


def _no_horizontal_scroll(page: Any) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px"


def _verify(page: Any, button: str, source: str) -> str:
    page.locator(button).click()
    result = page.locator(f'#verify-result[data-source="{source}"][data-verified]')
    result.wait_for()
    text = result.inner_text()
    assert result.get_attribute("data-verified") == "true", text
    return text


def test_duty_officer_signs_in_sees_acknowledges_verifies_and_signs_out(
    pages: Pages, live_console: LiveConsole, artifacts: Path
) -> None:
    world = live_console.world
    page = pages(LAPTOP)
    _sign_in(page, world.pak.token, "PAK")

    # The timeline: a bar per window of the next 30 days that PAK may read.
    for document_id in (world.ind_hcoc, world.fra_hcoc, world.bilateral):
        assert page.locator(f'#timeline rect[data-document-id="{document_id}"]').count() == 1
    assert page.locator(f'#timeline [data-document-id="{world.later}"]').count() == 0
    title = page.locator("#timeline time[data-utc]").first.get_attribute("title")
    assert title is not None and "Local time" in title and "UTC+05:30" in title

    # The map: land, and launch areas, directions and impact areas of every open notification.
    _wait_map(page)
    assert page.locator("#map .land path").count() > 50
    for document_id in (world.ind_hcoc, world.fra_hcoc, world.bilateral, world.later):
        assert page.locator(f'#map path.area.launch[data-document-id="{document_id}"]').count() == 1
        assert page.locator(f'#map path.area.impact[data-document-id="{document_id}"]').count() >= 1
        assert page.locator(f'#map path.direction[data-document-id="{document_id}"]').count() == 1
    assert page.locator(f'#map path.area.impact[data-document-id="{world.ind_hcoc}"]').count() == 2
    page.locator("#map").screenshot(path=str(artifacts / "map-laptop.png"))
    page.screenshot(path=str(artifacts / "overview-laptop.png"), full_page=True)
    _no_horizontal_scroll(page)
    page.get_by_role("button", name="Whole world").click()
    assert page.locator("#map svg").get_attribute("viewBox") == "-180.000 -90.000 360.000 180.000"
    page.locator("#map").screenshot(path=str(artifacts / "map-world-laptop.png"))
    page.get_by_role("button", name="Fit to areas").click()

    # Open the bilateral notification from the timeline.
    page.locator(".window-label").get_by_role("link", name=world.bilateral).click()
    page.wait_for_url(f"**/console/documents/{world.bilateral}")
    assert page.locator("#document-id").inner_text() == world.bilateral
    assert page.locator(".doc-meta .badge.status-scheduled").inner_text() == "scheduled"
    assert page.locator('#addressees li[data-participant="PAK"].pending').count() == 1
    assert "valid" in page.locator("#signature").inner_text()
    _wait_map(page, "#doc-map")
    assert page.locator(f'#doc-map path.area[data-document-id="{world.bilateral}"]').count() == 2
    page.screenshot(path=str(artifacts / "document-laptop.png"), full_page=True)
    _no_horizontal_scroll(page)

    # Acknowledge: sign in the browser with WebCrypto if this Chromium has Ed25519.
    form = page.locator("#ack-form[data-webcrypto]")
    form.wait_for(state="attached")
    if form.get_attribute("data-webcrypto") == "ed25519":
        assert page.locator("#webcrypto").is_visible()
        key = json.dumps(world.pak.private_jwk).encode()
        page.locator("#ack-key").set_input_files(
            files=[{"name": "PAK.jwk.json", "mimeType": "application/json", "buffer": key}]
        )
        page.locator("#ack-sign").click()
    else:  # graceful fallback: the WebCrypto path is hidden, the upload path remains
        assert page.locator("#webcrypto").is_hidden() and page.locator("#webcrypto-unavailable").is_visible()
        payload = support.acknowledgement(world.pak, world.bilateral, "IND", regime="in-pk-2005")
        page.locator("#ack-jws").fill(support.lnx_sign(world.pak, payload, live_console.workdir))
        page.locator("#ack-submit").click()
    page.wait_for_url(f"**/console/documents/{world.bilateral}/acknowledge")
    assert page.locator("#receipt-heading").inner_text() == "Acknowledgement accepted"
    ack_id = page.locator("#receipt-id").inner_text()
    assert ack_id.startswith("PAK-")
    assert page.locator("#receipt-proof").inner_text().startswith("c2sp.org/tlog-proof@v1")

    # Verify the receipt in the browser, then via the API.
    checks = _verify(page, "#verify-browser", "browser")
    assert "inclusion proof leads to the root" in checks and "rebuilt from the JWS matches" in checks
    assert "checkpoint signature by the log key lnx.test/log is valid" in checks
    _verify(page, "#verify-api", "API")
    page.screenshot(path=str(artifacts / "receipt-laptop.png"), full_page=True)

    # The document now shows PAK's acknowledgement, and no form any more.
    page.goto(f"/console/documents/{world.bilateral}")
    assert page.locator('#addressees li[data-participant="PAK"].acked').count() == 1
    assert page.locator("#ack-form").count() == 0
    _verify(page, "#verify-browser", "browser")

    # Sign out: the cookie is gone and every page sends the browser to the sign-in page.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/console/login")
    assert all(c["name"] != SESSION_COOKIE for c in page.context.cookies())
    for path in ("/console/", f"/console/documents/{world.bilateral}", "/console/compliance"):
        page.goto(path)
        assert "/console/login" in page.url, path


def test_acknowledging_with_a_jws_made_by_lnx_sign(pages: Pages, live_console: LiveConsole) -> None:
    world = live_console.world
    page = pages(LAPTOP)
    _sign_in(page, world.pak.token, "PAK")
    page.goto(f"/console/documents/{world.ind_hcoc}")

    wrong = support.lnx_sign(
        world.pak, support.acknowledgement(world.pak, world.fra_hcoc, "FRA"), live_console.workdir
    )
    page.locator("#ack-jws").fill(wrong)
    page.locator("#ack-submit").click()
    assert f"acknowledges {world.fra_hcoc}, not {world.ind_hcoc}" in page.locator("#ack-error").inner_text()

    payload = support.acknowledgement(world.pak, world.ind_hcoc, "IND")
    jws_file = live_console.workdir / "ack.jws"
    jws_file.write_text(support.lnx_sign(world.pak, payload, live_console.workdir) + "\n")
    page.locator("#ack-jws-file").set_input_files(str(jws_file))
    page.wait_for_function("document.getElementById('ack-jws').value.split('.').length === 3")
    page.locator("#ack-submit").click()
    page.wait_for_selector("#receipt-heading")
    assert page.locator("#receipt-id").inner_text() == payload["id"]
    _verify(page, "#verify-api", "API")


def test_without_webcrypto_the_browser_signing_path_is_hidden(
    pages: Pages, live_console: LiveConsole
) -> None:
    world = live_console.world
    page = pages(LAPTOP, init_script=NO_WEBCRYPTO)
    _sign_in(page, world.pak.token, "PAK")
    page.goto(f"/console/documents/{world.fra_hcoc}")
    page.wait_for_selector('#ack-form[data-webcrypto="unavailable"]', state="attached")
    assert page.locator("#webcrypto").is_hidden()
    assert page.locator("#webcrypto-unavailable").is_visible()
    assert page.locator("#ack-jws").is_visible() and page.locator("#ack-submit").is_enabled()


def test_a_third_state_never_sees_the_bilateral_notification(pages: Pages, live_console: LiveConsole) -> None:
    world = live_console.world
    page = pages(LAPTOP)
    _sign_in(page, world.fra.token, "FRA")
    _wait_map(page)
    assert page.locator(f'#timeline rect[data-document-id="{world.fra_hcoc}"]').count() == 1
    assert page.locator(f'#map path.area[data-document-id="{world.ind_hcoc}"]').count() >= 1
    assert page.locator(f'[data-document-id="{world.bilateral}"]').count() == 0
    assert world.bilateral not in page.content()

    page.goto("/console/documents")
    assert page.locator(f'#documents tr[data-document-id="{world.ind_hcoc}"]').count() == 1
    assert world.bilateral not in page.content()

    response = page.goto(f"/console/documents/{world.bilateral}")
    assert response is not None and response.status == 404
    assert page.locator("#error-heading").inner_text() == "404 · Not found"
    assert "Inland range" not in page.content()
    for path in ("receipt", "verification"):
        api = page.request.get(f"/console/api/documents/{world.bilateral}/{path}")
        assert api.status == 404
    areas = page.request.get("/console/api/geojson").json()
    assert world.bilateral not in json.dumps(areas)


def test_pages_are_readable_on_a_tablet(pages: Pages, live_console: LiveConsole, artifacts: Path) -> None:
    world = live_console.world
    page = pages(TABLET)
    _sign_in(page, world.ind.token, "IND")
    _wait_map(page)
    assert page.locator(f'#timeline rect[data-document-id="{world.ind_hcoc}"]').is_visible()
    _no_horizontal_scroll(page)
    page.locator("#map").screenshot(path=str(artifacts / "map-tablet.png"))
    page.screenshot(path=str(artifacts / "overview-tablet.png"), full_page=True)

    page.goto(f"/console/documents/{world.ind_hcoc}")
    _wait_map(page, "#doc-map")
    _no_horizontal_scroll(page)
    page.screenshot(path=str(artifacts / "document-tablet.png"), full_page=True)

    page.goto("/console/compliance")
    assert page.locator("#compliance").is_visible()
    page.screenshot(path=str(artifacts / "compliance-tablet.png"), full_page=True)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/console/login")
