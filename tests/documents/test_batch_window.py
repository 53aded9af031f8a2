"""The group commit's window closes early once as many submissions are in as the last batch held.

The window is two seconds here, so that "closed early" and "waited the whole window" are far
apart: a batch that closed early answers in a fraction of it.
"""

from __future__ import annotations

import time

import pytest

from tests.documents.builders import pre_launch, sign
from tests.documents.support import checkpoint_size_of, post_jws, send_in_order

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
