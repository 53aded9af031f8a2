"""The lnx log entry (contract §6): the exact leaf bytes committed to the Merkle tree.

::

    lnx-entry/v1\\n
    <lowercase hex SHA-256 of the compact JWS bytes>\\n
    <integrated time, RFC 3339 UTC, always YYYY-MM-DDTHH:MM:SS.ffffffZ>\\n

The leaf reveals no document content. The time always carries six fractional digits, even when
zero, so the bytes are a deterministic function of (JWS, time): one canonical form, as
sigstore/rekor has per entry kind.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import NamedTuple

from .merkle import leaf_hash

__all__ = [
    "ENTRY_HEADER",
    "EntryData",
    "entry_bytes",
    "entry_leaf_hash",
    "format_integrated_time",
    "parse_entry",
]

ENTRY_HEADER = "lnx-entry/v1"
"""First line of every v1 entry."""

_ENTRY = re.compile(
    rb"lnx-entry/v1\n(?P<digest>[0-9a-f]{64})\n"
    rb"(?P<time>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6})Z\n"
)


class EntryData(NamedTuple):
    """What a v1 entry states: the JWS digest and when the log integrated it."""

    jws_sha256_hex: str
    integrated_time: datetime


def format_integrated_time(integrated_time: datetime) -> str:
    """RFC 3339 in UTC with microseconds and ``Z``; the datetime must be timezone-aware."""
    if integrated_time.tzinfo is None or integrated_time.utcoffset() is None:
        raise ValueError("integrated_time must be timezone-aware")
    utc = integrated_time.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def entry_bytes(jws_compact: bytes | str, integrated_time: datetime) -> bytes:
    """The v1 leaf data for a compact JWS integrated at ``integrated_time``."""
    raw = jws_compact.encode("ascii") if isinstance(jws_compact, str) else bytes(jws_compact)
    digest = hashlib.sha256(raw).hexdigest()
    return f"{ENTRY_HEADER}\n{digest}\n{format_integrated_time(integrated_time)}\n".encode("ascii")


def entry_leaf_hash(jws_compact: bytes | str, integrated_time: datetime) -> bytes:
    """RFC 9162 leaf hash of the v1 entry."""
    return leaf_hash(entry_bytes(jws_compact, integrated_time))


def parse_entry(data: bytes) -> EntryData:
    """Parse v1 leaf data strictly: exactly the canonical bytes ``entry_bytes`` produces."""
    m = _ENTRY.fullmatch(data)
    if m is None:
        raise ValueError("not a canonical lnx-entry/v1 leaf")
    try:
        when = datetime.fromisoformat(m.group("time").decode("ascii")).replace(tzinfo=UTC)
    except ValueError as exc:
        raise ValueError("lnx-entry/v1 leaf has an invalid time") from exc
    return EntryData(m.group("digest").decode("ascii"), when)
