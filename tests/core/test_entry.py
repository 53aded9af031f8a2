"""The lnx-entry/v1 leaf data of contract §6: exact bytes, canonical time, strict parsing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lnx_client.core.entry import EntryData, entry_bytes, entry_leaf_hash, format_integrated_time, parse_entry
from lnx_client.core.merkle import leaf_hash

JWS = b"eyJhbGciOiJFZERTQSJ9.eyJ4IjoxfQ.c2ln"
DIGEST = hashlib.sha256(JWS).hexdigest()


def test_exact_bytes() -> None:
    when = datetime(2026, 11, 29, 1, 2, 3, 123456, tzinfo=UTC)
    assert entry_bytes(JWS, when) == f"lnx-entry/v1\n{DIGEST}\n2026-11-29T01:02:03.123456Z\n".encode()
    assert entry_bytes(JWS.decode(), when) == entry_bytes(JWS, when)
    assert entry_leaf_hash(JWS, when) == leaf_hash(entry_bytes(JWS, when))


def test_time_is_always_microseconds_in_utc() -> None:
    assert format_integrated_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000000Z"
    plus_two = timezone(timedelta(hours=2))
    assert (
        format_integrated_time(datetime(2026, 1, 2, 3, 4, 5, 7, tzinfo=plus_two))
        == "2026-01-02T01:04:05.000007Z"
    )
    assert format_integrated_time(datetime(5, 1, 1, tzinfo=UTC)) == "0005-01-01T00:00:00.000000Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        entry_bytes(JWS, datetime(2026, 1, 1))


def test_parse() -> None:
    when = datetime(2026, 11, 29, 1, 2, 3, 123456, tzinfo=UTC)
    parsed = parse_entry(entry_bytes(JWS, when))
    assert parsed == EntryData(DIGEST, when)
    digest, integrated = parsed
    assert integrated.tzinfo is UTC and digest == DIGEST


GOOD = f"lnx-entry/v1\n{DIGEST}\n2026-11-29T01:02:03.123456Z\n"


@pytest.mark.parametrize(
    "text",
    [
        GOOD.rstrip("\n"),
        GOOD + "\n",
        GOOD.replace("lnx-entry/v1", "lnx-entry/v2"),
        GOOD.replace(DIGEST, DIGEST.upper()),
        GOOD.replace(DIGEST, DIGEST[:-1]),
        GOOD.replace(".123456Z", "Z"),
        GOOD.replace(".123456Z", ".123Z"),
        GOOD.replace("Z\n", "+00:00\n"),
        GOOD.replace("T", " "),
        GOOD.replace("2026-11-29", "2026-02-30"),
        GOOD.replace("01:02:03", "23:59:60"),
        GOOD.replace("\n", "\r\n"),
        GOOD.replace("2026", "\u0662026"),
    ],
)
def test_parse_is_strict(text: str) -> None:
    with pytest.raises(ValueError):
        parse_entry(text.encode())


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200), st.datetimes(timezones=st.just(UTC)))
def test_round_trip(jws: bytes, when: datetime) -> None:
    assert parse_entry(entry_bytes(jws, when)) == (hashlib.sha256(jws).hexdigest(), when)
