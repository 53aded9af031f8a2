"""The log's signing key: a C2SP signed-note Ed25519 private key in a file, created at first start.

The file holds one line, ``PRIVATE+KEY+<name>+<key id>+<base64>`` (the format of
golang.org/x/mod/sumdb/note). It is created with mode 0600 and published with ``os.link`` so
that two workers starting at once on an empty data directory cannot end up with two keys: the
link fails for the second, which then reads the first one's key. A key file readable by group
or others is refused, as OpenSSH refuses such private keys.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from lnx_client.core import note

from app.config import Settings

__all__ = ["KeyFileError", "load_or_create_signer", "key_name"]

logger = logging.getLogger("lnx.log")


class KeyFileError(RuntimeError):
    """The key file is unsafe, malformed or for another key name."""


def key_name(settings: Settings) -> str:
    """The key name of the log's verifier key: the configured name, else the log origin."""
    return settings.log_key_name or settings.log_origin


def _read(path: Path, name: str) -> note.Signer:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"the log key {path} is accessible by group or others: chmod 600 it")
    try:
        signer = note.Signer.from_skey(path.read_text(encoding="utf-8").strip())
    except (note.NoteError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"the log key {path} is not a signed-note Ed25519 private key") from exc
    if signer.name != name:
        raise KeyFileError(
            f"the log key {path} is named {signer.name!r}, but the configured name is {name!r}"
        )
    return signer


def _create(path: Path, name: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    skey, _ = note.generate_signer(name)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(skey + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)  # atomic and never overwrites: a concurrent creator's key wins
        except FileExistsError:
            return
        logger.info("created the log signing key", extra={"path": str(path), "key_name": name})
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_or_create_signer(settings: Settings) -> note.Signer:
    """The log's signer from ``settings.resolved_log_key_path``, generating the key if absent."""
    path = settings.resolved_log_key_path
    name = key_name(settings)
    note.check_key_name(name)
    if not path.exists():
        _create(path, name)
    return _read(path, name)
