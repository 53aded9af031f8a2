"""``with transaction(factory) as session:`` — ``app.db.session_scope`` as a context manager.

The feed's background tasks return from inside their transactions; with the bare generator
(``for session in session_scope(...)``) a ``return`` closes the generator at its ``yield`` and
the transaction is rolled back. As a context manager, leaving the block normally commits.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from app.db import session_scope

__all__ = ["transaction"]


@contextmanager
def transaction(factory: sessionmaker[Session], *, read_only: bool = False) -> Iterator[Session]:
    yield from session_scope(factory, read_only=read_only)
