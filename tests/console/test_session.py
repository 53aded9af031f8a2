"""The sealed session cookie and CSRF tokens, without a server."""

from __future__ import annotations

import base64
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from app.console.session import SECRET_FILE, SESSION_MAX_AGE_S, ConsoleKeys, load_keys


@pytest.fixture
def keys() -> ConsoleKeys:
    return ConsoleKeys(os.urandom(32))


def test_a_sealed_session_opens_with_the_same_keys_only(keys: ConsoleKeys) -> None:
    cookie, data = keys.seal("lnx_secret-token")
    assert "lnx_secret-token" not in cookie  # encrypted, not merely signed
    assert keys.open(cookie) == data
    assert ConsoleKeys(os.urandom(32)).open(cookie) is None


@pytest.mark.parametrize("position", [0, 12, 20, -1])
def test_any_tampered_byte_is_refused(keys: ConsoleKeys, position: int) -> None:
    """Nonce, ciphertext or tag: flipping one bit anywhere makes the cookie no session."""
    cookie, _ = keys.seal("lnx_token")
    prefix, _, body = cookie.partition(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[position] ^= 0x01
    tampered = f"{prefix}.{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"
    assert keys.open(tampered) is None


@pytest.mark.parametrize("value", [None, "", "v1.", "v2.abc", "v1.!!!", "garbage"])
def test_malformed_cookies_are_no_session(keys: ConsoleKeys, value: str | None) -> None:
    assert keys.open(value) is None


def test_a_session_expires_after_a_shift(keys: ConsoleKeys) -> None:
    issued = time.time() - SESSION_MAX_AGE_S - 1
    cookie, _ = keys.seal("lnx_token", now=issued)
    assert keys.open(cookie) is None
    assert keys.open(cookie, now=issued + 60) is not None


def test_csrf_tokens_are_bound_to_their_session_and_purpose(keys: ConsoleKeys) -> None:
    _, one = keys.seal("lnx_token")
    _, two = keys.seal("lnx_token")
    token = keys.csrf_token("session", one.sid)
    assert keys.check_csrf("session", one.sid, token)
    assert not keys.check_csrf("session", two.sid, token)
    assert not keys.check_csrf("login", one.sid, token)
    assert not keys.check_csrf("session", one.sid, None)
    assert not keys.check_csrf("session", None, token)


def test_the_install_secret_is_private_and_shared_by_every_worker(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    results: list[ConsoleKeys] = []
    threads = [threading.Thread(target=lambda: results.append(load_keys(data_dir))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    secret = data_dir / SECRET_FILE
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert len(secret.read_bytes()) == 32
    cookie, data = results[0].seal("lnx_token")
    assert all(k.open(cookie) == data for k in results)
    assert sorted(p.name for p in data_dir.iterdir()) == [SECRET_FILE]  # no temporary file left
