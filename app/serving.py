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

**One CPU per worker** (``cpu_affinity``, on by default in ``lnx serve``): when there are no
more workers than CPUs this process may use, each worker pins itself to a CPU of its own as it
starts, before it has a second thread, so that its event loop, its commit thread and the thread
pool stay on that CPU. Why: a worker's submission cycle alternates between its event loop
(taking a batch in) and its commit thread, and left to the scheduler the two workers' busy
threads were often stacked on one CPU while the other idled: with two workers, 32 clients and
PostgreSQL on the same two CPUs, the CPUs idled 16-18 % of a run unpinned and 10-11 % pinned,
and the exchange accepted 5-21 % more documents per second (interleaved runs; the bare
verify-only endpoint, served the same way, gained nothing: it already kept both CPUs busy).
A worker claims its CPU by binding a name in Linux's abstract socket namespace
(``lnx-serve-cpu:<address>:<cpu>``), which the kernel releases when the process exits, so a
worker the supervisor restarts takes the CPU its predecessor left. Where there is no
``sched_setaffinity`` (macOS), fewer CPUs than workers, or every CPU already claimed, a worker
runs unpinned, as before.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from typing import Any

__all__ = ["ReusePortSocket", "pin_to_a_free_cpu", "reuse_port_supported", "serve"]

logger = logging.getLogger("lnx.serving")

_cpu_claim: socket.socket | None = None
"""The abstract socket by which this worker process holds its CPU (released when it exits)."""


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


def _rebind(family: int, address: tuple[Any, ...], pin_workers: int = 0) -> socket.socket:
    """Unpickling in a worker: a new plain socket on the parent's address (uvicorn listens on it).

    ``pin_workers``: the server's worker count if each worker is to take a CPU of its own (0:
    not). A spawned worker unpickles its sockets before it starts any thread, which then all
    inherit the CPU.
    """
    sock = _bound_socket(socket.socket, family, address)
    if pin_workers:
        pin_to_a_free_cpu(f"{address[0]}:{address[1]}", pin_workers)
    return sock


def pin_to_a_free_cpu(group: str, workers: int) -> int | None:
    """Pin the calling thread (and the threads it will start) to a CPU no other worker of ``group`` holds.

    Returns the CPU, or ``None`` when the worker stays unpinned: no ``sched_setaffinity`` on this
    platform, more workers than usable CPUs (pinning would stack some anyway), or no CPU left.
    """
    global _cpu_claim
    if _cpu_claim is not None or not hasattr(os, "sched_setaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))  # the CPUs this process may use (cgroups, taskset)
    if workers > len(cpus):
        return None
    for cpu in cpus:
        claim = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            claim.bind(f"\0lnx-serve-cpu:{group}:{cpu}")
        except OSError:  # another worker holds this CPU
            claim.close()
            continue
        try:
            os.sched_setaffinity(0, {cpu})
        except OSError:  # not allowed here (a restrictive sandbox): serve unpinned
            claim.close()
            return None
        _cpu_claim = claim
        logger.info("worker %d pinned to CPU %d", os.getpid(), cpu)
        return cpu
    return None


class ReusePortSocket(socket.socket):
    """The parent's bound (never listening) socket; each worker that unpickles it binds its own."""

    pin_workers = 0
    """If not 0: the server's worker count, and each worker pins itself to a CPU of its own."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebind, (self.family, self.getsockname(), self.pin_workers))

    @classmethod
    def bind_to(cls, host: str, port: int, *, pin_workers: int = 0) -> ReusePortSocket:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = _bound_socket(cls, family, (host, port))
        assert isinstance(sock, ReusePortSocket)
        sock.pin_workers = pin_workers
        return sock


def serve(app: str, *, host: str, port: int, workers: int, cpu_affinity: bool = True, **options: Any) -> None:
    """Run ``app`` (an import string) like ``uvicorn.run``, with one listening socket per worker.

    ``cpu_affinity``: each worker takes a CPU of its own (see the module's docstring).
    One worker, or a platform without ``SO_REUSEPORT``: plain ``uvicorn.run``, unpinned.
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    if workers <= 1 or not reuse_port_supported():
        uvicorn.run(app, host=host, port=port, workers=workers, **options)
        return
    config = uvicorn.Config(app, host=host, port=port, workers=workers, **options)
    try:
        sock = ReusePortSocket.bind_to(host, port, pin_workers=workers if cpu_affinity else 0)
    except OSError as exc:
        print(f"cannot bind {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        raise SystemExit(3) from exc  # uvicorn's STARTUP_FAILURE
    with sock:
        logger.info(
            "serving on http://%s:%d with %d workers (SO_REUSEPORT%s)",
            host,
            sock.getsockname()[1],
            workers,
            ", a CPU per worker where free" if cpu_affinity else "",
        )
        try:
            Multiprocess(config, sockets=[sock]).run()
        except KeyboardInterrupt:
            pass
