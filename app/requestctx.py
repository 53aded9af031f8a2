"""Per-request context (request id, participant) carried in context variables for log lines."""

from __future__ import annotations

import contextvars

__all__ = ["request_id_var", "participant_var", "current_request_id"]

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("lnx_request_id", default="-")
participant_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("lnx_participant", default=None)


def current_request_id() -> str:
    return request_id_var.get()
