"""The errors the client raises: one for API answers, one for offline verification."""

from __future__ import annotations

from typing import Any

__all__ = ["LnxApiError", "LnxClientError", "LnxConnectionError", "VerificationError"]

_PROBLEM_TYPE_BASE = "urn:lnx:problem:"


class LnxClientError(Exception):
    """Base of every error raised by ``lnx_client``."""


class LnxApiError(LnxClientError):
    """The exchange answered with an error status; ``problem`` is its RFC 9457 problem document.

    When the body is not a problem document (a proxy's error page, say) a minimal one is made up
    from the status line, so ``problem`` always has ``status``, ``title`` and ``detail``.
    """

    def __init__(
        self, status: int, problem: dict[str, Any], *, headers: dict[str, str] | None = None
    ) -> None:
        self.status = status
        self.problem = problem
        self.headers = headers or {}
        super().__init__(f"{status} {self.title}: {self.detail}")

    @property
    def title(self) -> str:
        """The problem's ``title``."""
        return str(self.problem.get("title") or "")

    @property
    def detail(self) -> str:
        """The problem's ``detail`` (what went wrong, for a person)."""
        return str(self.problem.get("detail") or "")

    @property
    def code(self) -> str:
        """The stable code: the problem ``type`` without the ``urn:lnx:problem:`` prefix."""
        return str(self.problem.get("type") or "").removeprefix(_PROBLEM_TYPE_BASE)

    @property
    def errors(self) -> list[dict[str, Any]]:
        """``[{pointer, message}]`` for validation failures (JSON Pointers into the payload)."""
        errors = self.problem.get("errors")
        return list(errors) if isinstance(errors, list) else []

    def __repr__(self) -> str:
        return f"LnxApiError(status={self.status}, code={self.code!r}, detail={self.detail!r})"


class LnxConnectionError(LnxClientError):
    """The exchange could not be reached (after the retries the request allowed); ``__cause__`` says why."""


class VerificationError(LnxClientError, ValueError):
    """An offline check failed. ``code`` is stable; the message says precisely what did not hold."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"VerificationError(code={self.code!r}, message={self.message!r})"
