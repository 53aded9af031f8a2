"""Pure pieces of the feed: the SSRF address rule, Retry-After parsing, filters, cursors, slots."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from app.errors import BadRequest, ServiceUnavailable, ValidationFailed
from app.feed import ssrf
from app.feed.deliveries import MAX_RETRY_AFTER_S, retry_after_seconds
from app.feed.events import Filters, RenderedEvent, cloud_event, normalise_types, page_body, parse_cursor
from app.feed.streams import StreamSlots

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("192.0.2.1", False),  # documentation
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped
        ("::ffff:8.8.8.8", True),
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("64:ff9b::808:808", True),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert ssrf.is_public(ipaddress.ip_address(address)) is public


def test_resolve_target_refuses_a_name_resolving_to_loopback() -> None:
    with pytest.raises(ssrf.UnsafeUrl, match="not a public address"):
        ssrf.resolve_target("http://localhost:9/x", allow_private=False)
    target = ssrf.resolve_target("http://localhost:9/x", allow_private=True)
    assert target.host == "localhost" and target.port == 9
    assert not ssrf.is_public(ipaddress.ip_address(target.address))


def test_resolve_target_pins_a_literal_and_defaults_the_port() -> None:
    target = ssrf.resolve_target("https://8.8.8.8/hook", allow_private=False)
    assert (target.address, target.port) == ("8.8.8.8", 443)


@pytest.mark.parametrize(
    "url", ["ftp://example.org/", "example.org/hook", "http://", "http://a:b@example.org/", "http://[::1/"]
)
def test_check_syntax_refuses(url: str) -> None:
    with pytest.raises(ssrf.UnsafeUrl):
        ssrf.check_syntax(url)


def test_unresolvable_hosts_are_refused() -> None:
    with pytest.raises(ssrf.UnsafeUrl, match="does not resolve"):
        ssrf.resolve_target("http://no-such-host.invalid/", allow_private=True)


def test_retry_after_seconds() -> None:
    assert retry_after_seconds("120", NOW) == 120
    assert retry_after_seconds(" 0 ", NOW) == 0
    assert retry_after_seconds(format_datetime(NOW + timedelta(seconds=30), usegmt=True), NOW) == 30
    assert retry_after_seconds(format_datetime(NOW - timedelta(seconds=30), usegmt=True), NOW) == 0
    assert retry_after_seconds("99999999", NOW) == MAX_RETRY_AFTER_S
    for bad in (None, "", "soon", "-5", "1.5"):
        assert retry_after_seconds(bad, NOW) is None


def test_filters_match_like_the_sql() -> None:
    filters = Filters.build(["pre-launch", "reminder"], ["IND"], None)
    assert filters.types == ("org.lnx.document.pre-launch.v1", "org.lnx.reminder.v1")
    assert filters.matches("org.lnx.document.pre-launch.v1", "IND", "hcoc")
    assert not filters.matches("org.lnx.document.pre-launch.v1", "PAK", "hcoc")
    assert not filters.matches("org.lnx.document.cancellation.v1", "IND", "hcoc")
    assert Filters().matches("anything", None, None)
    with pytest.raises(ValidationFailed) as info:
        normalise_types(["pre-launch", "rumour"])
    assert info.value.errors == [{"pointer": "/type/1", "message": "unknown event type 'rumour'"}]


def test_cursor_parsing() -> None:
    assert parse_cursor(None) is None and parse_cursor("") is None
    assert parse_cursor("0") == 0 and parse_cursor("42") == 42
    for bad in ("-1", "abc", "1.0", "١٢", "9" * 19):
        with pytest.raises(BadRequest):
            parse_cursor(bad)


def test_page_body_and_cloud_event() -> None:
    event = cloud_event(7, "org.lnx.reminder.v1", "x", NOW, {"a": 1})
    assert event["id"] == "7" and event["time"] == "2026-05-01T12:00:00Z"
    body = page_body([RenderedEvent(7, b'{"id":"7"}'), RenderedEvent(9, b'{"id":"9"}')], 12)
    assert body == b'{"events":[{"id":"7"},{"id":"9"}],"next":"12"}'
    assert page_body([], 0) == b'{"events":[],"next":"0"}'


def test_stream_slots_cap_and_release_once() -> None:
    slots = StreamSlots(2)
    first, second = slots.acquire(), slots.acquire()
    with pytest.raises(ServiceUnavailable) as info:
        slots.acquire()
    assert info.value.headers["Retry-After"] == "5"
    first()
    first()  # idempotent
    assert slots.used == 1
    slots.acquire()
    second()
    assert slots.used == 1
