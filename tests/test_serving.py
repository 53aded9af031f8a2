"""``app.serving``: one listening socket per worker process, bound to the same address (SO_REUSEPORT)."""

from __future__ import annotations

import socket
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
