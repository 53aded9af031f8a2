"""Following the feed with long polls, resuming from a cursor kept in a file.

Delivery to the consumer is *at least once*: the cursor moves past an event only when the
consumer comes back for the next one (or calls :meth:`commit`), so an event whose handling was
interrupted is delivered again after a restart, never lost.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

from .cursor import CursorFile
from .models import Event, FeedPage

__all__ = ["AsyncFeedFollower", "FeedFollower"]

DEFAULT_WAIT_S = 30.0
DEFAULT_LIMIT = 100


class _FollowerState:
    """Cursor bookkeeping shared by the sync and async followers."""

    def __init__(
        self,
        after: str | None,
        cursor_file: str | os.PathLike[str] | None,
        wait: float,
        limit: int,
        timeout: float | None,
    ) -> None:
        self.file = CursorFile(cursor_file) if cursor_file is not None else None
        stored = self.file.load() if self.file is not None else None
        # An explicit ``after`` wins over the file (to replay or skip on purpose).
        self.position: str | None = after if after is not None else stored
        self._pending: str | None = None
        self.wait = wait
        self.limit = limit
        self.deadline = None if timeout is None else time.monotonic() + timeout

    @property
    def cursor(self) -> str | None:
        """The position the next poll continues from (handled events are behind it)."""
        return self.position

    def next_wait(self) -> float | None:
        """The long-poll wait for the next request, or ``None`` when the deadline has passed."""
        if self.deadline is None:
            return self.wait
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return None
        return min(self.wait, remaining)

    def handing_out(self, event: Event) -> None:
        self._pending = event.id

    def commit(self) -> None:
        """The event last handed out has been handled: move the cursor past it, durably."""
        if self._pending is not None:
            self.position = self._pending
            self._pending = None
            self._save()

    def page_done(self, page: FeedPage) -> None:
        if page.next is not None and page.next != self.position:
            self.position = page.next
            self._save()

    def _save(self) -> None:
        if self.file is not None and self.position is not None:
            self.file.save(self.position)


class FeedFollower:
    """Iterate to receive the caller's events in log order (see the module docstring).

    ``timeout`` (seconds) ends the iteration once that much time has passed without an event
    pending; without it the follower runs until the consumer stops.
    """

    def __init__(
        self,
        poll: Callable[..., FeedPage],
        *,
        after: str | None = None,
        cursor_file: str | os.PathLike[str] | None = None,
        wait: float = DEFAULT_WAIT_S,
        limit: int = DEFAULT_LIMIT,
        timeout: float | None = None,
    ) -> None:
        self._poll = poll
        self._state = _FollowerState(after, cursor_file, wait, limit, timeout)

    @property
    def cursor(self) -> str | None:
        return self._state.cursor

    def commit(self) -> None:
        """Mark the last event handed out as handled (done automatically on the next ``next()``)."""
        self._state.commit()

    def __iter__(self) -> Iterator[Event]:
        state = self._state
        while (wait := state.next_wait()) is not None:
            page = self._poll(after=state.position, limit=state.limit, wait=wait)
            for event in page.events:
                state.handing_out(event)
                yield event
                state.commit()
            state.page_done(page)


class AsyncFeedFollower:
    """The asynchronous :class:`FeedFollower` (``async for event in follower``)."""

    def __init__(
        self,
        poll: Callable[..., Awaitable[FeedPage]],
        *,
        after: str | None = None,
        cursor_file: str | os.PathLike[str] | None = None,
        wait: float = DEFAULT_WAIT_S,
        limit: int = DEFAULT_LIMIT,
        timeout: float | None = None,
    ) -> None:
        self._poll = poll
        self._state = _FollowerState(after, cursor_file, wait, limit, timeout)

    @property
    def cursor(self) -> str | None:
        return self._state.cursor

    def commit(self) -> None:
        """Mark the last event handed out as handled."""
        self._state.commit()

    async def __aiter__(self) -> AsyncIterator[Event]:
        state = self._state
        while (wait := state.next_wait()) is not None:
            page = await self._poll(after=state.position, limit=state.limit, wait=wait)
            for event in page.events:
                state.handing_out(event)
                yield event
                state.commit()
            state.page_done(page)
