"""Standard Webhooks v1 signatures (pure: stdlib only).

Contract (CONTRACT.md §5): every delivery carries ``webhook-id``, ``webhook-timestamp`` (Unix
seconds) and ``webhook-signature``; the signature is ``v1,<base64 HMAC-SHA256>`` over
``<id>.<timestamp>.<body>`` keyed with the base64-decoded part of the ``whsec_...`` secret
(Standard Webhooks specification, "Signature scheme" / "Verifying webhooks"). The signature
header may carry several space-separated signatures (e.g. during secret rotation); one valid
``v1`` signature suffices, and unknown versions are ignored.

Verification compares in constant time (``hmac.compare_digest``) and refuses timestamps more than
``tolerance`` seconds away from now, in either direction (replay protection). Refusals raise
:class:`WebhookVerificationError` with a stable ``code``: ``missing_header``,
``invalid_timestamp``, ``timestamp_too_old``, ``timestamp_too_new``, ``no_matching_signature``,
``invalid_secret``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

__all__ = [
    "DEFAULT_TOLERANCE",
    "HEADER_ID",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "SECRET_PREFIX",
    "WebhookVerificationError",
    "generate_secret",
    "sign",
    "signed_headers",
    "verify",
]

SECRET_PREFIX = "whsec_"
HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"
DEFAULT_TOLERANCE = 300  # seconds, as in the Standard Webhooks reference libraries
_SECRET_BYTES = 32  # the specification asks for 24 to 64 random bytes
_VERSION = "v1"


class WebhookVerificationError(Exception):
    """A webhook delivery was refused; ``code`` is stable (see the module docstring)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"WebhookVerificationError(code={self.code!r}, message={self.message!r})"


def generate_secret() -> str:
    """A new signing secret: ``whsec_`` + standard base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """The ``webhook-signature`` value ``v1,<base64 HMAC-SHA256(key, id.timestamp.body)>``."""
    mac = _mac(_secret_key(secret), msg_id, timestamp, _body_bytes(body))
    return f"{_VERSION},{base64.b64encode(mac).decode('ascii')}"


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> dict[str, str]:
    """The three Standard Webhooks headers for one delivery attempt."""
    return {
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: sign(secret, msg_id, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes | str,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Check a delivery's headers and exact body bytes; return ``None`` or raise the error.

    Header names are matched case-insensitively (HTTP field names are, RFC 9110 §5.1).
    """
    msg_id = _header(headers, HEADER_ID)
    timestamp = _timestamp(_header(headers, HEADER_TIMESTAMP))
    signatures = _header(headers, HEADER_SIGNATURE)
    _check_tolerance(timestamp, tolerance, time.time() if now is None else now)
    expected = _mac(_secret_key(secret), msg_id, timestamp, _body_bytes(body))
    if not _any_matches(expected, signatures):
        raise WebhookVerificationError("no_matching_signature", "no webhook signature matches")


def _secret_key(secret: str) -> bytes:
    """The HMAC key: the standard-base64 text after ``whsec_`` (the prefix is optional, as in the reference libraries)."""
    text = secret.removeprefix(SECRET_PREFIX)
    text += "=" * (-len(text) % 4)  # unpadded secrets are accepted, as by the reference libraries
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError("invalid_secret", "the webhook secret is not base64") from None
    if not key:
        raise WebhookVerificationError("invalid_secret", "the webhook secret is empty")
    return key


def _body_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def _mac(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    if not value:
        raise WebhookVerificationError("missing_header", f"the {name} header is missing")
    return value


def _timestamp(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        raise WebhookVerificationError("invalid_timestamp", "webhook-timestamp must be Unix seconds")
    return int(text)


def _check_tolerance(timestamp: int, tolerance: int, now: float) -> None:
    if now - timestamp > tolerance:
        raise WebhookVerificationError("timestamp_too_old", "the webhook timestamp is too old")
    if timestamp - now > tolerance:
        raise WebhookVerificationError("timestamp_too_new", "the webhook timestamp is in the future")


def _any_matches(expected: bytes, header_value: str) -> bool:
    found = False
    for entry in header_value.split(" "):
        version, sep, encoded = entry.partition(",")
        if not sep or version != _VERSION:
            continue
        try:
            candidate = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        # Keep comparing after a match so the time taken does not depend on which entry matched.
        found |= hmac.compare_digest(expected, candidate)
    return found
