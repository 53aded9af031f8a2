"""Direct routes: the hottest endpoint served past FastAPI's router and dependency machinery.

Every submission is one ``POST /v1/documents``. Under load, FastAPI's generic path costs that
request more than its own signature check:

- six middleware layers (server errors, telemetry, body limit, exceptions, exit stack);
- route matching over every router;
- query parameters parsed for a route that takes none;
- the dependency solver run for a single dependency.

Measured with ``bench/submit.py``'s load (PostgreSQL, two workers, 64 clients, five alternating
runs against two servers started together), a worker spent 1.06 ms of CPU per document through
FastAPI's path and 0.89 ms through the direct route. A direct route keeps what the request needs
and drops the rest:

- the same ``RequestContextMiddleware`` (request id, body limit, access log, metrics);
- the route's own endpoint, called with a plain Starlette ``Request``;
- the app's exception handlers, so errors are the same problem documents;
- the app's 500 handler, through Starlette's ``ServerErrorMiddleware``, as on every other route.

The route is still declared on its ``APIRouter``: that declaration is what OpenAPI publishes, and
``scope["route"]`` points at it so the metrics and the access log name its template. A router
module opts in with ``DIRECT_ROUTES = {(method, path): endpoint}``, where the endpoint takes the
request and does what the declared route's dependencies would have done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIRouter
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["DirectEndpoint", "DirectRoutes", "ExchangeApp"]

DirectEndpoint = Callable[[Request], Awaitable[Response]]


class DirectRoutes:
    """The ASGI app behind the direct routes: call the endpoint, render its errors as the app does."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], tuple[APIRoute, DirectEndpoint]] = {}

    def add(self, router: APIRouter, method: str, path: str, endpoint: DirectEndpoint) -> None:
        """Serve ``method path`` with ``endpoint``; ``router`` must declare the same route (for OpenAPI)."""
        declared = [
            route
            for route in router.routes
            if isinstance(route, APIRoute) and route.path == path and method in route.methods
        ]
        if len(declared) != 1:
            raise ValueError(
                f"a direct route needs exactly one declared {method} {path}, found {len(declared)}"
            )
        self._routes[(method, path)] = (declared[0], endpoint)

    def serves(self, scope: Scope) -> bool:
        return (scope["method"], scope["path"]) in self._routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route, endpoint = self._routes[(scope["method"], scope["path"])]
        scope["route"] = route
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except Exception as exc:
            handler = _handler_for(request.app.exception_handlers, exc)
            if handler is None:
                raise  # unexpected: ServerErrorMiddleware answers 500, as on FastAPI's path
            response = await handler(request, exc)
        await response(scope, receive, send)


def _handler_for(handlers: dict[Any, Any], exc: Exception) -> Any | None:
    """The app's handler for ``exc`` by class hierarchy, as Starlette's ExceptionMiddleware looks it up.

    ``Exception`` is left to the outer ``ServerErrorMiddleware`` (as FastAPI does), so errors that
    belong to a middleware in between (the body limit's) reach it.
    """
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None


class ExchangeApp(FastAPI):
    """FastAPI with direct routes (see the module docstring); every other request goes the usual way."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.direct_routes = DirectRoutes()
        self._direct_app: ASGIApp | None = None

    def wrap_direct_routes(self, wrap: Callable[[ASGIApp], ASGIApp]) -> None:
        """Put the middleware the direct routes share with the rest of the app around them.

        Called once the exception handlers are installed: the 500 handler is taken from them here.
        """
        handler = self.exception_handlers.get(Exception) or self.exception_handlers.get(500)
        self._direct_app = ServerErrorMiddleware(wrap(self.direct_routes), handler=handler, debug=self.debug)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._direct_app is not None and self.direct_routes.serves(scope):
            if self.root_path:
                scope["root_path"] = self.root_path
            scope["app"] = self
            await self._direct_app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
