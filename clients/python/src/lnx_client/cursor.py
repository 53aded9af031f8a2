"""Small durable state files: a feed cursor, an auditor's or witness's last checkpoint.

Writes are atomic (temporary file in the same directory, ``fsync``, ``os.replace``, then ``fsync``
of the directory), so a crash leaves either the old or the new content, never a torn file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["CursorFile", "atomic_write_text", "read_json", "write_json"]


def atomic_write_text(path: str | os.PathLike[str], text: str, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``text`` atomically and durably."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(target.parent, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_json(path: str | os.PathLike[str]) -> Any | None:
    """The JSON content of ``path``, or ``None`` if it does not exist."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def write_json(path: str | os.PathLike[str], value: Any) -> None:
    """Atomically write ``value`` as indented JSON."""
    atomic_write_text(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


class CursorFile:
    """A feed cursor kept in a file (one line of text)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> str | None:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return text or None

    def save(self, cursor: str) -> None:
        atomic_write_text(self.path, cursor + "\n")

    def __repr__(self) -> str:
        return f"CursorFile({str(self.path)!r})"
