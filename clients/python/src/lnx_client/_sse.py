"""Server-Sent Events parsing (WHATWG HTML §9.2.6 "Interpreting an event stream"), line by line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from ._http import Call
from .models import Event

__all__ = ["STREAM_CALL", "STREAM_TIMEOUT", "SseEvent", "SseParser"]

#: The stream's request, for the retry bookkeeping (a GET: reconnecting is always safe).
STREAM_CALL: Call[None] = Call("GET", "/v1/stream", lambda r: None)
#: The server sends a comment at least every 15 s (contract §5): a 60 s read timeout means it is gone.
STREAM_TIMEOUT = httpx.Timeout(30.0, read=60.0)


@dataclass(frozen=True, slots=True)
class SseEvent:
    id: str | None
    event: str
    data: str


class SseParser:
    """Feed it lines (without their end-of-line); it returns an event when a blank line ends one.

    Comment lines (``:`` first, the server's keep-alives) are ignored; ``id`` persists across
    events as the spec says, so :attr:`last_event_id` is what to send as ``Last-Event-ID``.
    """

    def __init__(self, last_event_id: str | None = None) -> None:
        self.last_event_id = last_event_id
        self._event = ""
        self._data: list[str] = []

    def headers(self) -> dict[str, str]:
        """Request headers for (re)connecting: resume after the last event seen."""
        headers = {"Accept": "text/event-stream"}
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        return headers

    def feed(self, line: str) -> SseEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self.last_event_id = value
        return None

    def feed_event(self, line: str) -> Event | None:
        """Like :meth:`feed`, but return only CloudEvents (JSON objects with ``id`` and ``type``)."""
        sse = self.feed(line)
        if sse is None:
            return None
        try:
            data: Any = json.loads(sse.data)
        except ValueError:
            return None
        if not isinstance(data, dict) or "id" not in data or "type" not in data:
            return None
        return Event.model_validate(data)

    def _dispatch(self) -> SseEvent | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return SseEvent(self.last_event_id, event or "message", "\n".join(data))
