"""The console's session cookie and CSRF tokens.

Design (see ``docs/console.md``): the cookie *is* the session. It holds the participant's API
token, sealed with AES-256-GCM under a key derived from a per-install secret in the data
directory (mode 0600). Sealing rather than only signing keeps the token unreadable in the
browser's cookie store; being stateless, any worker of a multi-process server opens it, and the
token is re-authenticated on every request, so revoking the token ends every console session at
once. A stolen cookie stays usable until it expires (``SESSION_MAX_AGE_S``) or the token is
revoked: the price of not keeping server-side session rows.

CSRF: the cookie is ``SameSite=Strict``, and every form carries a token that is an HMAC of the
session's random id (before sign-in: of a random pre-session cookie), checked on every POST.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "SESSION_COOKIE",
    "LOGIN_COOKIE",
    "SESSION_MAX_AGE_S",
    "ConsoleKeys",
    "SessionData",
    "load_keys",
    "new_login_nonce",
]

SESSION_COOKIE = "lnx_console"
LOGIN_COOKIE = "lnx_console_login"
SESSION_MAX_AGE_S = 12 * 3600
"""A duty shift: after this the officer signs in again."""
SECRET_FILE = "console-secret.key"

_VERSION = "v1"
_AAD = b"lnx-console-session/v1"
_CLOCK_SKEW_S = 300


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class SessionData:
    """What a session cookie carries: the API token, a random session id, when it was issued."""

    token: str
    sid: str
    issued_at: int


class ConsoleKeys:
    """Keys derived from the install's secret: one to seal cookies, one for CSRF tokens."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the console secret must be at least 32 bytes")
        self._aead = AESGCM(hmac.digest(secret, b"lnx-console/v1/session-encryption", "sha256"))
        self._csrf_key = hmac.digest(secret, b"lnx-console/v1/csrf", "sha256")

    def seal(self, token: str, *, now: float | None = None) -> tuple[str, SessionData]:
        """A new session for ``token``: the cookie value and what it holds."""
        data = SessionData(token=token, sid=_b64(secrets.token_bytes(16)), issued_at=int(now or time.time()))
        plain = json.dumps({"tok": data.token, "sid": data.sid, "iat": data.issued_at}).encode()
        nonce = secrets.token_bytes(12)
        return f"{_VERSION}.{_b64(nonce + self._aead.encrypt(nonce, plain, _AAD))}", data

    def open(self, cookie: str | None, *, now: float | None = None) -> SessionData | None:
        """The session in a cookie, or ``None`` if it is missing, forged, tampered with or expired."""
        if not cookie or not cookie.startswith(_VERSION + "."):
            return None
        try:
            raw = _unb64(cookie[len(_VERSION) + 1 :])
            plain = self._aead.decrypt(raw[:12], raw[12:], _AAD)
            obj = json.loads(plain)
            data = SessionData(token=str(obj["tok"]), sid=str(obj["sid"]), issued_at=int(obj["iat"]))
        except (InvalidTag, ValueError, KeyError, TypeError, binascii.Error):
            return None
        age = (now or time.time()) - data.issued_at
        if age > SESSION_MAX_AGE_S or age < -_CLOCK_SKEW_S:
            return None
        return data

    def csrf_token(self, purpose: str, nonce: str) -> str:
        """The form token bound to a session id (``purpose="session"``) or a pre-session nonce."""
        return _b64(hmac.digest(self._csrf_key, f"{purpose}:{nonce}".encode(), "sha256"))

    def check_csrf(self, purpose: str, nonce: str | None, submitted: str | None) -> bool:
        if not nonce or not submitted:
            return False
        return hmac.compare_digest(self.csrf_token(purpose, nonce), submitted)


def new_login_nonce() -> str:
    return _b64(secrets.token_bytes(16))


def _read_or_create_secret(path: Path) -> bytes:
    """The install's secret, created once (0600) even when several workers start together."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(32))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic, and fails if another worker won the race: then use theirs
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


def load_keys(data_dir: Path) -> ConsoleKeys:
    """The console keys of the install whose data directory is ``data_dir``."""
    return ConsoleKeys(_read_or_create_secret(data_dir / SECRET_FILE))
