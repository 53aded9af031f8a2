"""A real exchange for client and CLI tests: uvicorn on 127.0.0.1 (a free port) in a thread.

Why a real server rather than ``httpx.ASGITransport``: the app's lifespan (log integrator,
submission batcher) must run, and the CLI under test opens its own connections exactly as it
does in production. The server runs in a thread of the test process, so tests can also reach
into its database (to tamper with rows) with the same settings.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from lnx_client import Client
from lnx_client.core import jwk as core_jwk

from app.config import Settings
from app.main import create_app
from tests.fixtures import bootstrap_operator

START_TIMEOUT_S = 20.0


@dataclass
class Party:
    """A participant of the live exchange: its token, and its private signing key if it has one."""

    code: str
    role: str
    token: str
    private_jwk: dict[str, Any] | None = None

    @property
    def kid(self) -> str:
        assert self.private_jwk is not None
        return str(self.private_jwk["kid"])


@dataclass
class LiveExchange:
    url: str
    settings: Settings
    operator_token: str
    parties: dict[str, Party] = field(default_factory=dict)

    def client(self, token: str | None = None, **kw: Any) -> Client:
        return Client(self.url, token, **kw)

    @property
    def operator(self) -> Client:
        return self.client(self.operator_token)

    def log_vkey(self) -> str:
        with self.client() as c:
            return c.log_key()

    def add(
        self,
        code: str,
        role: str = "state",
        *,
        regimes: tuple[str, ...] = ("hcoc",),
        key: str | None = "Ed25519",
        scopes: tuple[str, ...] = ("read", "submit"),
    ) -> Party:
        """Register a participant as the operator would, with the client library."""
        with self.operator as op:
            op.add_participant(code, f"{code} test", role)
            private = None
            if key:
                private = core_jwk.generate_private_jwk(key)  # type: ignore[arg-type]
                op.register_key(code, core_jwk.public_jwk_from_private(private))
            token = op.issue_token(code, scopes).token
            for regime in regimes:
                if role == "auditor":
                    op.add_auditor(regime, code)
                else:
                    op.join_regime(regime, code)
        party = Party(code, role, token, private)
        self.parties[code] = party
        return party


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def serve_in_thread(settings: Settings) -> Iterator[str]:
    """Run the app under uvicorn until the generator is closed; yields its base URL."""
    sock = _free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings),
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="lnx-live", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the live exchange did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveExchange]:
    token = bootstrap_operator(settings)
    for url in serve_in_thread(settings):
        yield LiveExchange(url=url, settings=settings, operator_token=token)
