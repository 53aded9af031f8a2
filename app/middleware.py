"""Pure ASGI middleware: request ids, the body-size limit and one JSON access-log line per request.

Written as raw ASGI (not ``BaseHTTPMiddleware``) so streaming responses (SSE, long polls) pass
through untouched and the cost per request stays a few microseconds.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import problem_response
from app.requestctx import request_id_var

__all__ = ["RequestContextMiddleware"]

access_logger = logging.getLogger("lnx.access")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class _BodyTooLarge(Exception):
    pass


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, access_log: bool = True) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else "req_" + secrets.token_hex(8)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status_holder: dict[str, Any] = {"status": 500}
        scope.setdefault("state", {})

        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, receive, send, status_holder)
            self._finish(scope, status_holder, started, request_id)
            request_id_var.reset(token)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge
            return message

        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        except _BodyTooLarge:
            if not response_started:
                await self._too_large(scope, receive, send, status_holder)
        finally:
            self._finish(scope, status_holder, started, request_id)
            request_id_var.reset(token)

    async def _too_large(
        self, scope: Scope, receive: Receive, send: Send, status_holder: dict[str, Any]
    ) -> None:
        status_holder["status"] = 413
        response = problem_response(
            413,
            "payload-too-large",
            "Request body too large",
            f"the request body exceeds {self.max_body_bytes} bytes",
            extra={"limit": self.max_body_bytes},
        )
        response.headers["x-request-id"] = request_id_var.get()
        await response(scope, receive, send)

    def _finish(self, scope: Scope, status_holder: dict[str, Any], started: float, request_id: str) -> None:
        # Prometheus traffic metrics (app.ops.metrics), when the app has started them.
        observer = getattr(getattr(scope.get("app"), "state", None), "http_metrics", None)
        if observer is not None:
            observer.observe(scope, status_holder["status"], time.perf_counter() - started)
        self._log(scope, status_holder, started, request_id)

    def _log(self, scope: Scope, status_holder: dict[str, Any], started: float, request_id: str) -> None:
        if not self.access_log:
            return
        route = scope.get("route")
        access_logger.info(
            "request",
            extra={
                "request_id": request_id,
                "method": scope.get("method"),
                "route": getattr(route, "path", None) or scope.get("path"),
                "path": scope.get("path"),
                "status": status_holder["status"],
                "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                "participant": (scope.get("state") or {}).get("participant"),
            },
        )
