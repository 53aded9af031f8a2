"""``app.serving``: one listening socket per worker process, bound to the same address (SO_REUSEPORT),
and one CPU per worker."""

from __future__ import annotations

import multiprocessing
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import ForkingPickler

import pytest

from app.serving import ReusePortSocket, reuse_port_supported

pytestmark = pytest.mark.skipif(not reuse_port_supported(), reason="no SO_REUSEPORT on this platform")


def _as_a_worker_receives_it(sock: socket.socket) -> socket.socket:
    """What a spawned worker unpickles (uvicorn's supervisor pickles the sockets it is given)."""
    return ForkingPickler.loads(bytes(ForkingPickler.dumps(sock)))


def _accepted(listener: socket.socket) -> int:
    count = 0
    while True:
        try:
            connection, _ = listener.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


def test_each_worker_binds_a_socket_of_its_own_on_the_parents_address() -> None:
    with ReusePortSocket.bind_to("127.0.0.1", 0) as parent:
        first, second = _as_a_worker_receives_it(parent), _as_a_worker_receives_it(parent)
        with first, second:
            assert type(first) is socket.socket  # a plain socket: uvicorn listens on it as usual
            assert first.getsockname() == second.getsockname() == parent.getsockname()
            assert first.fileno() != second.fileno()
            assert first.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1


def test_the_kernel_spreads_connections_over_the_workers_sockets_and_none_to_the_parent() -> None:
    with ReusePortSocket.bind_to("127.0.0.1", 0) as parent:
        workers = [_as_a_worker_receives_it(parent) for _ in range(2)]
        for listener in workers:
            listener.listen(128)
            listener.setblocking(False)
        clients = [socket.create_connection(parent.getsockname(), timeout=5) for _ in range(64)]
        try:
            counts = [_accepted(listener) for listener in workers]
        finally:
            for client in clients:
                client.close()
            for listener in workers:
                listener.close()
    assert sum(counts) == 64  # the parent's bound socket never listens, so it gets none
    # By a hash of each client's port: 64 connections all on one socket would be a 1 in 2**63 event.
    assert min(counts) > 0, counts


def test_an_address_held_by_a_plain_socket_is_refused() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        with pytest.raises(OSError):
            ReusePortSocket.bind_to("127.0.0.1", holder.getsockname()[1])


# ---------------------------------------------------------------- one CPU per worker

_CAN_PIN = hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2
_needs_two_cpus = pytest.mark.skipif(not _CAN_PIN, reason="needs sched_setaffinity and two usable CPUs")


def _worker(parent_socket: socket.socket, report: Connection, stop: Connection) -> None:
    """A stand-in for a spawned uvicorn worker: unpickle the socket, report the CPUs, live until told."""
    parent_socket.close()  # unpickling it (before this body ran) is what pins
    report.send(sorted(os.sched_getaffinity(0)))
    stop.recv()


class _Workers:
    """Worker processes started as uvicorn's supervisor starts them (spawned, the socket pickled in)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._running: list[tuple[BaseProcess, Connection]] = []

    def start(self) -> list[int]:
        """Start one; the CPUs it may run on."""
        context = multiprocessing.get_context("spawn")
        report_recv, report_send = context.Pipe(duplex=False)
        stop_recv, stop_send = context.Pipe(duplex=False)
        process = context.Process(target=_worker, args=(self._sock, report_send, stop_recv))
        process.start()
        self._running.append((process, stop_send))
        assert report_recv.poll(60), "the worker did not report"
        cpus: list[int] = report_recv.recv()
        return cpus

    def stop(self, index: int) -> None:
        process, stop = self._running.pop(index)
        stop.send(None)
        process.join(30)

    def stop_all(self) -> None:
        while self._running:
            self.stop(0)


@contextmanager
def _workers(pin_workers: int) -> Iterator[_Workers]:
    with ReusePortSocket.bind_to("127.0.0.1", 0, pin_workers=pin_workers) as parent:
        workers = _Workers(parent)
        try:
            yield workers
        finally:
            workers.stop_all()


@_needs_two_cpus
def test_each_worker_takes_a_cpu_of_its_own_and_a_restarted_one_takes_the_cpu_left_free() -> None:
    usable = sorted(os.sched_getaffinity(0))
    with _workers(pin_workers=2) as workers:
        first, second = workers.start(), workers.start()
        assert len(first) == len(second) == 1, (first, second)
        assert first != second
        assert set(first + second) <= set(usable)
        workers.stop(0)  # the supervisor replaces a dead worker: its CPU is free again
        assert workers.start() == first


@_needs_two_cpus
def test_a_worker_stays_unpinned_when_every_cpu_is_taken_or_there_are_more_workers_than_cpus() -> None:
    usable = sorted(os.sched_getaffinity(0))
    with _workers(pin_workers=len(usable) + 1) as workers:
        assert workers.start() == usable  # more workers than CPUs: pinning would stack some anyway
    if len(usable) > 8:
        return  # a worker per CPU of a big machine: the first case above already covered the rule
    with _workers(pin_workers=2) as workers:
        taken = [cpu for _ in usable for cpu in workers.start()]
        assert sorted(taken) == usable  # each CPU once (a server with as many workers as CPUs)
        assert workers.start() == usable  # none left for one more


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity on this platform")
def test_without_cpu_affinity_a_worker_keeps_every_cpu() -> None:
    with _workers(pin_workers=0) as workers:
        assert workers.start() == sorted(os.sched_getaffinity(0))
