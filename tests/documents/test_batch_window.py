"""The group commit's window closes early once as many submissions are in as are expected: as
many as the last batch held, or as many connections as the last two batches came over.

The window is two seconds here, so that "closed early" and "waited the whole window" are far
apart: a batch that closed early answers in a fraction of it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.client.live import LiveExchange, Party, serve_in_thread
from tests.documents.builders import pre_launch, sign
from tests.documents.support import GAP_S, JOSE, checkpoint_size_of, post_jws, send_in_order
from tests.fixtures import bootstrap_operator

WINDOW_S = 2.0


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(
        update={"submit_batch_wait_ms": WINDOW_S * 1000, "submit_batch_adaptive": True}
    )


def test_once_as_many_as_last_time_are_in_the_batch_commits(world) -> None:
    started = time.monotonic()
    first = send_in_order(
        world,
        [(world.ind, sign(world.ind, pre_launch("IND"))), (world.fra, sign(world.fra, pre_launch("FRA")))],
    )
    assert time.monotonic() - started >= WINDOW_S  # the first batch knows no better than its window
    assert [r.status_code for r in first] == [201, 201]
    assert {checkpoint_size_of(r.json()) for r in first} == {2}

    started = time.monotonic()
    second = send_in_order(
        world,
        [(world.pak, sign(world.pak, pre_launch("PAK"))), (world.ind, sign(world.ind, pre_launch("IND")))],
    )
    elapsed = time.monotonic() - started

    assert [r.status_code for r in second] == [201, 201]
    # The first of them waited for company (one is fewer than last time); the second closed the window.
    assert {checkpoint_size_of(r.json()) for r in second} == {4}
    assert elapsed < WINDOW_S / 2, f"the batch waited {elapsed:.2f} s: its window did not close early"


def test_a_lone_submission_after_a_lone_one_commits_at_once(world) -> None:
    assert post_jws(world.client, world.ind, sign(world.ind, pre_launch("IND"))).status_code == 201

    started = time.monotonic()
    response = post_jws(world.client, world.fra, sign(world.fra, pre_launch("FRA")))
    elapsed = time.monotonic() - started

    assert response.status_code == 201
    assert checkpoint_size_of(response.json()) == 2
    assert elapsed < WINDOW_S / 2, f"a lone submission waited {elapsed:.2f} s for company"


def _submit_together(
    parties: list[Party], connections: list[httpx.Client], group: list[int]
) -> list[httpx.Response]:
    """Each party of ``group`` submits a notification over its own connection, ``GAP_S`` apart."""
    responses: list[httpx.Response] = [None] * len(group)  # type: ignore[list-item]

    def post(slot: int, who: int) -> None:
        party = parties[who]
        responses[slot] = connections[who].post(
            "/v1/documents",
            content=sign(party, pre_launch(party.code)),
            headers={"Authorization": f"Bearer {party.token}", **JOSE},
        )

    threads = [threading.Thread(target=post, args=(slot, who)) for slot, who in enumerate(group)]
    for thread in threads:
        thread.start()
        time.sleep(GAP_S)
    for thread in threads:
        thread.join(timeout=30)
    assert [r.status_code for r in responses] == [201] * len(group), [r.text for r in responses]
    return responses


@pytest.fixture
def live_url(settings) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A real server: the batcher tells clients apart by their connections, which need sockets."""
    yield from serve_in_thread(settings)


def test_clients_that_took_turns_in_two_batches_are_taken_in_together(settings, live_url) -> None:  # type: ignore[no-untyped-def]
    """Two groups of keep-alive connections whose batches alternated are waited for together.

    Counting only the last batch's size, the first group's two submissions would close the
    window at two (the last batch held two) and the groups would keep taking turns, each
    paying a batch's fixed cost for half the documents. The connections of the last two batches
    are four, so the window waits for the second group, and the four share one batch.
    """
    live = LiveExchange(url=live_url, settings=settings, operator_token=bootstrap_operator(settings))
    parties = [live.add(code) for code in ("IND", "FRA", "PAK", "GBR")]
    # One keep-alive connection per party, as a client's connection pool keeps them.
    connections = [httpx.Client(base_url=live_url, timeout=30) for _ in parties]
    first_group: list[httpx.Response] = []
    try:
        _submit_together(parties, connections, [0, 1])  # the first batch waits its whole window
        started = time.monotonic()
        _submit_together(parties, connections, [2, 3])  # as many as last time: closes at once
        assert time.monotonic() - started < WINDOW_S / 2

        started = time.monotonic()
        thread = threading.Thread(
            target=lambda: first_group.extend(_submit_together(parties, connections, [0, 1]))
        )
        thread.start()
        time.sleep(WINDOW_S / 4)  # the second group comes back later, within the window
        second_group = _submit_together(parties, connections, [2, 3])
        thread.join(timeout=30)
        elapsed = time.monotonic() - started
    finally:
        for connection in connections:
            connection.close()

    sizes = {checkpoint_size_of(r.json()) for r in first_group + second_group}
    assert sizes == {8}, f"the two groups were committed apart: checkpoints {sizes}"
    assert elapsed < WINDOW_S, f"the merged batch waited {elapsed:.2f} s: longer than its window"
