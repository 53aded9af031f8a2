"""Serving the app with uvicorn, several worker processes sharing the load evenly (SO_REUSEPORT).

``uvicorn --workers N`` binds one listening socket in the parent and hands it to every worker,
which all ``accept()`` on it. Whichever worker wakes first takes the connection, so long-lived
keep-alive connections opened in a burst (a proxy's upstream pool, a client's connection pool)
pile onto one worker: measured with ``bench/submit.py``'s 32 connections to two workers, one
worker served 3,374 submissions of a run and the other 176. The busy worker's batches then
carry everyone's latency while the other's CPU share goes unused, and how much a second worker
adds depends on how the connections happened to fall.

With ``SO_REUSEPORT`` (Linux 3.9+, the BSDs) each worker listens on a socket of its own, bound
to the same address, and the kernel spreads incoming connections across them by a hash of the
peer's address and port. The parent binds the address too -- it holds the port and fails early
if it is taken -- but never listens, so it receives nothing.

The parent's socket goes to the workers through uvicorn's supervisor, which pickles it into
each spawned process (``uvicorn.supervisors.Multiprocess``). ``ReusePortSocket`` pickles as
"bind this address anew with SO_REUSEPORT", so each worker, including one the supervisor
restarts, unpickles a fresh socket of its own. Two consequences, both documented in
``docs/deployment.md``: connections waiting in a worker's accept queue when that worker dies
are reset (the clients reconnect), and another process of the same user could join the group
on the same port (as it could take over a port it binds first anyway).
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any

__all__ = ["ReusePortSocket", "reuse_port_supported", "serve"]

logger = logging.getLogger("lnx.serving")


def reuse_port_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def _bound_socket(cls: type[socket.socket], family: int, address: tuple[Any, ...]) -> socket.socket:
    sock = cls(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


def _rebind(family: int, address: tuple[Any, ...]) -> socket.socket:
    """Unpickling in a worker: a new plain socket on the parent's address (uvicorn listens on it)."""
    return _bound_socket(socket.socket, family, address)


class ReusePortSocket(socket.socket):
    """The parent's bound (never listening) socket; each worker that unpickles it binds its own."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebind, (self.family, self.getsockname()))

    @classmethod
    def bind_to(cls, host: str, port: int) -> ReusePortSocket:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = _bound_socket(cls, family, (host, port))
        assert isinstance(sock, ReusePortSocket)
        return sock


def serve(app: str, *, host: str, port: int, workers: int, **options: Any) -> None:
    """Run ``app`` (an import string) like ``uvicorn.run``, with one listening socket per worker.

    One worker, or a platform without ``SO_REUSEPORT``: plain ``uvicorn.run``.
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    if workers <= 1 or not reuse_port_supported():
        uvicorn.run(app, host=host, port=port, workers=workers, **options)
        return
    config = uvicorn.Config(app, host=host, port=port, workers=workers, **options)
    try:
        sock = ReusePortSocket.bind_to(host, port)
    except OSError as exc:
        print(f"cannot bind {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        raise SystemExit(3) from exc  # uvicorn's STARTUP_FAILURE
    with sock:
        logger.info(
            "serving on http://%s:%d with %d workers (SO_REUSEPORT)", host, sock.getsockname()[1], workers
        )
        try:
            Multiprocess(config, sockets=[sock]).run()
        except KeyboardInterrupt:
            pass
