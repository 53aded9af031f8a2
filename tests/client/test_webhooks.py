"""Subscriptions through the client, deliveries to a real local receiver, checked with WebhookVerifier."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from lnx_client import LnxApiError, WebhookVerificationError, WebhookVerifier

from tests.client.live import LiveExchange
from tests.client.support import pre_launch, submit

DELIVERY_TIMEOUT_S = 20.0


class Receiver:
    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.arrived = threading.Event()


@pytest.fixture
def receiver() -> Iterator[tuple[str, Receiver]]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.deliveries.append(({k.lower(): v for k, v in self.headers.items()}, body))
            state.arrived.set()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", state
    finally:
        server.shutdown()
        server.server_close()


def test_subscription_lifecycle_and_verified_delivery(
    live: LiveExchange, receiver: tuple[str, Receiver]
) -> None:
    url, state = receiver
    ind = live.add("IND")
    pak = live.add("PAK")
    with live.client(pak.token) as client:
        created = client.create_subscription(url, types=["pre-launch"], issuers=["IND"], description="ops")
        assert created.secret.startswith("whsec_")
        assert [s.id for s in client.list_subscriptions()] == [created.id]
        assert client.get_subscription(created.id).issuers == ["IND"]
        updated = client.update_subscription(created.id, description="operations desk")
        assert updated.description == "operations desk"

        receipt = submit(live, ind, pre_launch(ind))
        assert state.arrived.wait(DELIVERY_TIMEOUT_S), "no webhook delivery arrived"
        headers, body = state.deliveries[0]
        event = WebhookVerifier(created.secret).verify(headers, body)
        assert event.subject == receipt.id and event.type == "org.lnx.document.pre-launch.v1"
        with pytest.raises(WebhookVerificationError) as info:
            WebhookVerifier(created.secret).verify(headers, body.replace(b"IND", b"PAK"))
        assert info.value.code == "no_matching_signature"
        rotated = client.rotate_subscription_secret(created.id).secret
        with pytest.raises(WebhookVerificationError) as info:
            WebhookVerifier(rotated).verify(headers, body)  # signed with the secret before rotation
        assert info.value.code == "no_matching_signature"
        with pytest.raises(WebhookVerificationError) as info:
            WebhookVerifier(created.secret).verify(headers, body, now=time.time() + 3600)
        assert info.value.code == "timestamp_too_old"

        deadline = time.monotonic() + DELIVERY_TIMEOUT_S
        while True:
            page = client.list_deliveries(created.id)
            if page.deliveries and page.deliveries[0].status == "delivered":
                break
            assert time.monotonic() < deadline, page
            time.sleep(0.05)
        delivery = client.get_delivery(created.id, page.deliveries[0].id)
        assert delivery.webhook_id == headers["webhook-id"] and delivery.attempt_log

        client.delete_subscription(created.id)
        assert client.list_subscriptions() == []
        with pytest.raises(LnxApiError) as not_found:
            client.get_subscription(created.id)
        assert not_found.value.status == 404


def test_verifier_refuses_a_bad_secret() -> None:
    with pytest.raises(WebhookVerificationError):
        WebhookVerifier("whsec_%%%")
