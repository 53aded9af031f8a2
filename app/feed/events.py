"""CloudEvents 1.0 envelopes of feed events, the filters a reader may set, and cursor parsing.

An event is rendered once per access level (full or metadata-only, contract §1) and kept as
JSON bytes: the same bytes then go to every poller, stream and webhook entitled to that level,
so a thousand subscribers cost one serialisation, not a thousand.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from app.errors import BadRequest, ValidationFailed
from app.feed.outbox import REMINDER_EVENT_TYPE, document_event_type

__all__ = [
    "SOURCE",
    "DOCUMENT_TYPES",
    "Filters",
    "RenderedEvent",
    "cloud_event",
    "normalise_types",
    "parse_cursor",
    "page_body",
]

SOURCE = "/v1/documents"
DOCUMENT_TYPES = (
    "pre-launch",
    "pre-launch-update",
    "cancellation",
    "post-launch",
    "acknowledgement",
    "annual-declaration",
)
_KNOWN_TYPES = {document_event_type(t) for t in DOCUMENT_TYPES} | {REMINDER_EVENT_TYPE}
_SHORT_TYPES = {t: document_event_type(t) for t in DOCUMENT_TYPES} | {"reminder": REMINDER_EVENT_TYPE}


@dataclass(frozen=True, slots=True)
class RenderedEvent:
    """One event as one reader gets it: the cursor and the serialised CloudEvent."""

    seq: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Filters:
    """Event filters; an empty tuple means "any". The SQL in ``repository`` applies the same rule."""

    types: tuple[str, ...] = ()
    issuers: tuple[str, ...] = ()
    regimes: tuple[str, ...] = ()

    def matches(self, type_: str, issuer: str | None, regime: str | None) -> bool:
        return (
            (not self.types or type_ in self.types)
            and (not self.issuers or issuer in self.issuers)
            and (not self.regimes or regime in self.regimes)
        )

    @classmethod
    def build(
        cls,
        types: Iterable[str] | None = None,
        issuers: Iterable[str] | None = None,
        regimes: Iterable[str] | None = None,
        *,
        pointer: str = "/type",
    ) -> Filters:
        return cls(
            types=tuple(normalise_types(types or (), pointer=pointer)),
            issuers=tuple(sorted(set(issuers or ()))),
            regimes=tuple(sorted(set(regimes or ()))),
        )


def normalise_types(values: Iterable[str], *, pointer: str = "/type") -> list[str]:
    """Accept ``pre-launch`` or ``org.lnx.document.pre-launch.v1`` (and ``reminder``); 422 otherwise."""
    out: set[str] = set()
    for position, value in enumerate(values):
        full = _SHORT_TYPES.get(value, value)
        if full not in _KNOWN_TYPES:
            message = f"unknown event type {value!r}"
            raise ValidationFailed(
                message,
                code="unknown-event-type",
                errors=[{"pointer": f"{pointer}/{position}", "message": message}],
            )
        out.add(full)
    return sorted(out)


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def cloud_event(seq: int, type_: str, subject: str, time: datetime, data: Any) -> dict[str, Any]:
    """The CloudEvents 1.0 structured-mode JSON object of one feed event (contract §5)."""
    return {
        "specversion": "1.0",
        "id": str(seq),
        "source": SOURCE,
        "type": type_,
        "subject": subject,
        "time": _iso(time),
        "datacontenttype": "application/json",
        "data": data,
    }


def parse_cursor(value: str | None, *, name: str = "after") -> int | None:
    """A cursor is the decimal ``id`` of an event (``0`` = from the beginning); 400 for anything else."""
    if value is None or value == "":
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise BadRequest(
            f"{name} must be an event id (a non-negative integer) or 'latest'", code="invalid-cursor"
        )
    return int(text)


def page_body(events: Sequence[RenderedEvent], next_cursor: int) -> bytes:
    """``{"events": [...], "next": "<cursor>"}`` assembled from pre-serialised events."""
    return (
        b'{"events":['
        + b",".join(e.body for e in events)
        + b'],"next":'
        + orjson.dumps(str(next_cursor))
        + b"}"
    )
