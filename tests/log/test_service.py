"""The log's storage path against a real database: sequencing, integration, proofs, entries, tiles."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime
from itertools import pairwise

import pytest
from lnx_client.core import merkle, note, tiles
from lnx_client.core.checkpoint import open_checkpoint
from lnx_client.core.tlogproof import parse_tlog_proof, verify_tlog_proof
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.db import session_scope
from app.errors import BadRequest, NotFound
from app.log import repository, service
from app.log.models import LogCheckpoint, LogNode, LogTreeHead
from tests.core import reference_merkle as ref
from tests.log.support import ORIGIN, append, integrate, leaf_datas


def _read(factory: sessionmaker[Session]) -> Session:
    return factory()


def test_sequence_gives_contiguous_indexes_and_leaf_hashes(factory, signer):
    first = append(factory, leaf_datas(0, 3))
    second = append(factory, leaf_datas(3, 2))
    assert [i for i, _ in first + second] == [0, 1, 2, 3, 4]
    assert [h for _, h in first] == [merkle.leaf_hash(d) for d in leaf_datas(0, 3)]
    assert append(factory, []) == []


def test_integrate_many_batches_matches_reference_tree(factory, signer):
    rng = random.Random(7)
    datas: list[bytes] = []
    checkpoints: list[service.CheckpointRecord] = []
    assert integrate(factory, signer) is None  # nothing pending
    for _ in range(25):
        batch = leaf_datas(len(datas), rng.choice([1, 2, 3, 7, 16, 31, 64]))
        append(factory, batch)
        datas.extend(batch)
        record = integrate(factory, signer)
        assert record is not None and record.size == len(datas)
        assert record.root_hash == ref.mth(datas)
        checkpoint, _ = open_checkpoint(record.note, [], origin=ORIGIN, required=[signer.verifier()])
        assert (checkpoint.size, checkpoint.root_hash) == (record.size, record.root_hash)
        checkpoints.append(record)
    assert integrate(factory, signer) is None

    with _read(factory) as session:
        # Every checkpoint is consistent with every earlier one, with proofs from storage.
        for i, old in enumerate(checkpoints):
            for new in checkpoints[i + 1 :]:
                proof = service.consistency_proof(session, old.size, new.size)
                assert proof.hashes == ref.proof(old.size, datas[: new.size])
                merkle.verify_consistency(old.size, new.size, proof.hashes, old.root_hash, new.root_hash)
        # Inclusion proofs from storage equal the RFC's PATH over the recomputed tree.
        for cp in checkpoints[::4] + checkpoints[-1:]:
            for index in sorted({0, cp.size // 2, cp.size - 1}):
                proof = service.inclusion_proof(session, index, cp.size)
                assert proof.hashes == ref.path(index, datas[: cp.size])
                assert proof.leaf_hash == merkle.leaf_hash(datas[index])
                merkle.verify_inclusion(proof.leaf_hash, index, cp.size, proof.hashes, cp.root_hash)


def test_integrate_respects_max_leaves_and_drains_a_backlog(factory, signer):
    datas = leaf_datas(0, 50)
    append(factory, datas)
    sizes = []
    states = []
    while True:
        with _read(factory) as session:
            states.append(service.integration_state(session))  # the integrator's tick reads this
        if (record := integrate(factory, signer, max_leaves=16)) is None:
            break
        sizes.append(record.size)
    assert sizes == [16, 32, 48, 50]
    assert states == [(0, 50), (16, 34), (32, 18), (48, 2), (50, 0)]
    with _read(factory) as session:
        assert service.latest_checkpoint(session).root_hash == ref.mth(datas)
        assert service.pending_count(session) == 0


def test_stored_nodes_are_every_perfect_subtree(factory, signer):
    datas = leaf_datas(0, 300)
    append(factory, datas)
    integrate(factory, signer)
    with _read(factory) as session:
        for level in range(0, 9):
            count = 300 >> level
            hashes = repository.node_hashes_in_range(session, level, 0, count + 1)
            assert len(hashes) == count
            width = 1 << level
            assert hashes == [ref.mth(datas[i * width : (i + 1) * width]) for i in range(count)]


def test_integration_refuses_to_sign_over_a_corrupt_frontier(factory, signer):
    append(factory, leaf_datas(0, 5))
    integrate(factory, signer)
    append(factory, leaf_datas(5, 1))
    for session in session_scope(factory):
        frontier = session.execute(select(LogTreeHead.frontier)).scalar_one()
        assert frontier is not None and len(frontier) == 2 * 32  # 5 = 4 + 1: two perfect subtrees
        session.execute(update(LogTreeHead).values(frontier=b"\x00" * 32 + frontier[32:]))
    with pytest.raises(service.LogCorrupt, match="frontier"):
        integrate(factory, signer)
    with _read(factory) as session:
        assert service.latest_checkpoint(session).size == 5


def test_a_head_without_frontier_is_read_from_the_nodes_and_checked(factory, signer):
    """A database from before the frontier column: the nodes are read once, and checked."""
    datas = leaf_datas(0, 7)
    append(factory, datas[:5])
    integrate(factory, signer)
    append(factory, datas[5:6])
    for session in session_scope(factory):
        session.execute(update(LogTreeHead).values(frontier=None))
        session.execute(update(LogNode).where(LogNode.level == 2, LogNode.idx == 0).values(hash=b"\x00" * 32))
    with pytest.raises(service.LogCorrupt, match="stored nodes"):
        integrate(factory, signer)
    for session in session_scope(factory):  # repaired: integration goes on and stores a frontier again
        session.execute(
            update(LogNode).where(LogNode.level == 2, LogNode.idx == 0).values(hash=ref.mth(datas[:4]))
        )
    assert integrate(factory, signer).root_hash == ref.mth(datas[:6])
    with _read(factory) as session:
        assert session.execute(select(LogTreeHead.frontier)).scalar_one() == ref.mth(datas[:4]) + ref.mth(
            datas[4:6]
        )


def test_ensure_checkpoint_signs_size_zero_once(factory, signer):
    for session in session_scope(factory):
        record = service.ensure_checkpoint(session, signer, ORIGIN)
        assert record is not None and record.size == 0 and record.root_hash == merkle.EMPTY_ROOT
    for session in session_scope(factory):
        assert service.ensure_checkpoint(session, signer, ORIGIN) is None
    with _read(factory) as session:
        assert service.checkpoint_text(session) == record.note


def test_check_log_key_refuses_another_key_or_origin(factory, signer):
    for session in session_scope(factory):
        service.check_log_key(session, signer.verifier(), ORIGIN)  # empty log: anything goes
        service.ensure_checkpoint(session, signer, ORIGIN)
    other = note.Signer.from_skey(note.generate_signer(ORIGIN)[0])
    with _read(factory) as session:
        service.check_log_key(session, signer.verifier(), ORIGIN)
        with pytest.raises(service.LogKeyMismatch):
            service.check_log_key(session, other.verifier(), ORIGIN)
        with pytest.raises(service.LogKeyMismatch):
            service.check_log_key(session, signer.verifier(), "lnx.other/log")


def test_receipt_proof_is_a_verifiable_tlog_proof(factory, signer):
    datas = leaf_datas(0, 13)
    append(factory, datas)
    with _read(factory) as session, pytest.raises(service.ServiceUnavailable):
        service.latest_checkpoint(session)  # no checkpoint at all yet
    integrate(factory, signer)
    append(factory, leaf_datas(13, 1))
    with _read(factory) as session:
        for index in (0, 7, 12):
            text = service.receipt_proof(session, index)
            checkpoint = verify_tlog_proof(text, datas[index], signer.verifier(), origin=ORIGIN)
            assert checkpoint.size == 13
        with pytest.raises(service.NotIntegrated):
            service.receipt_proof(session, 13)


def test_receipts_of_many_entries_equal_their_single_receipts(factory, signer):
    """A batch's receipts come from one range query per call; each must be the entry's own proof."""
    datas = leaf_datas(0, 300)
    append(factory, datas)
    integrate(factory, signer)
    rng = random.Random(7)
    with _read(factory) as session:
        for wanted in ([0], [299], list(range(40, 104)), rng.sample(range(300), 50), list(range(300))):
            proofs = service.receipt_proofs(session, wanted)
            assert sorted(proofs) == sorted(set(wanted))
            for index in wanted[:20]:
                by_itself = service.inclusion_proof(session, index, 300).hashes  # the one-proof path
                assert list(parse_tlog_proof(proofs[index]).proof) == by_itself
                verify_tlog_proof(proofs[index], datas[index], signer.verifier(), origin=ORIGIN)
        assert service.receipt_proofs(session, []) == {}
        with pytest.raises(service.NotIntegrated):
            service.receipt_proofs(session, [5, 300])


def test_sequencing_and_integration_in_one_transaction(factory, signer):
    """The submit path may integrate inside its own transaction: one commit, receipt ready."""
    for session in session_scope(factory):
        [(index, _)] = service.sequence_many(session, leaf_datas(0, 1), datetime.now(UTC))
        record = service.integrate(session, signer, ORIGIN)
        assert record is not None and record.size == 1
        proof = service.receipt_proof(session, index)
    verify_tlog_proof(proof, leaf_datas(0, 1)[0], signer.verifier(), origin=ORIGIN)


def test_an_integration_step_proves_its_own_entries_from_memory(factory, signer):
    """``Integration.proofs`` (the submit path's receipts) equal the stored-node proofs.

    Batches of every shape after trees of every shape: sizes around powers of two, batches that
    complete a perfect subtree and ones that straddle several.
    """
    datas = leaf_datas(0, 200)
    size = 0
    for count in (1, 1, 2, 3, 1, 8, 5, 16, 17, 1, 63, 2, 30, 50):
        chunk = datas[size : size + count]
        for session in session_scope(factory):
            sequenced = service.sequence_many(session, chunk, datetime.now(UTC))
            step = service.integrate_step(
                session, signer, ORIGIN, sequenced=(sequenced[0][0], [h for _, h in sequenced])
            )
        assert step is not None and step.first == size and step.record.size == size + count
        proofs = step.proofs(range(size, size + count))
        with _read(factory) as session:
            assert proofs == service.receipt_proofs(session, range(size, size + count))
        for index in range(size, size + count):
            verify_tlog_proof(proofs[index], datas[index], signer.verifier(), origin=ORIGIN)
        assert not step.covers(size - 1) and not step.covers(size + count)
        with pytest.raises(ValueError, match="not integrated by this step"):
            step.proofs([size + count])
        size += count


def test_an_integration_step_reads_leaves_it_was_not_given(factory, signer):
    """Leaves committed but never integrated (a crashed writer) come first, read from storage."""
    datas = leaf_datas(0, 7)
    append(factory, datas[:4])  # sequenced, never integrated
    for session in session_scope(factory):
        sequenced = service.sequence_many(session, datas[4:], datetime.now(UTC))
        step = service.integrate_step(
            session, signer, ORIGIN, sequenced=(sequenced[0][0], [h for _, h in sequenced])
        )
    assert step is not None and (step.first, step.record.size) == (0, 7)
    assert step.record.root_hash == ref.mth(datas)
    for index, proof in step.proofs(range(7)).items():
        verify_tlog_proof(proof, datas[index], signer.verifier(), origin=ORIGIN)


def test_proof_parameters_are_checked(factory, signer):
    append(factory, leaf_datas(0, 10))
    for session in session_scope(factory):
        service.ensure_checkpoint(session, signer, ORIGIN)
    integrate(factory, signer)
    with _read(factory) as session:
        with pytest.raises(BadRequest):
            service.inclusion_proof(session, 10, 10)
        with pytest.raises(NotFound):
            service.inclusion_proof(session, 10)
        with pytest.raises(NotFound):
            service.inclusion_proof(session, 1, 5)  # not a published size
        with pytest.raises(BadRequest):
            service.inclusion_proof(session, -1)
        with pytest.raises(BadRequest):
            service.consistency_proof(session, 10, 0)
        with pytest.raises(NotFound):
            service.consistency_proof(session, 3, 10)
        assert service.consistency_proof(session, 0, 10).hashes == []
        assert service.consistency_proof(session, 10, 10).hashes == []
        with pytest.raises(NotFound):
            service.proof_by_leaf_hash(session, b"\x01" * 32)
        found = service.proof_by_leaf_hash(session, merkle.leaf_hash(leaf_datas(4, 1)[0]))
        assert (found.index, found.size) == (4, 10)
        assert found.checkpoint is not None


def test_entries_pages_are_capped_and_stay_within_the_tree(factory, signer, monkeypatch):
    monkeypatch.setattr(service, "ENTRIES_PAGE_MAX", 7)
    datas = leaf_datas(0, 20)
    append(factory, datas)
    integrate(factory, signer)
    append(factory, leaf_datas(20, 3))  # sequenced but not integrated: not published
    with _read(factory) as session:
        page = service.entries(session, 0)
        assert [e.index for e in page] == list(range(7))
        assert [e.leaf_data for e in page] == datas[:7]
        assert [e.index for e in service.entries(session, 15, 100)] == list(range(15, 20))
        assert [e.index for e in service.entries(session, 3, 5)] == [3, 4]
        with pytest.raises(NotFound):
            service.entries(session, 20)
        with pytest.raises(BadRequest):
            service.entries(session, 5, 5)


def test_tiles_and_bundles_come_from_the_nodes(factory, signer):
    datas = leaf_datas(0, 600)
    append(factory, datas)
    integrate(factory, signer)
    leaf_hashes = [merkle.leaf_hash(d) for d in datas]
    with _read(factory) as session:
        assert service.tile(session, 0, 1, 256) == b"".join(leaf_hashes[256:512])
        assert service.tile(session, 0, 2, 88) == b"".join(leaf_hashes[512:600])
        assert service.tile(session, 0, 0, 5) == b"".join(leaf_hashes[:5])  # prefix of a full tile
        assert service.tile(session, 1, 0, 2) == ref.mth(datas[:256]) + ref.mth(datas[256:512])
        assert tiles.decode_entry_bundle(service.entry_bundle(session, 2, 88)) == datas[512:]
        root = tiles.root_from_tiles(
            600, lambda level, index, width: service.tile(session, level, index, width)
        )
        assert root == ref.mth(datas)
        for missing in [(0, 2, 89), (0, 2, 256), (0, 3, 1), (1, 0, 3), (2, 0, 1), (9, 0, 1)]:
            with pytest.raises(NotFound):
                service.tile(session, *missing)
        with pytest.raises(NotFound):
            service.entry_bundle(session, 2, 256)


def test_tile_exists_rule():
    assert service.tile_exists(256, 0, 0, 256)
    assert not service.tile_exists(255, 0, 0, 256)
    assert service.tile_exists(255, 0, 0, 255)
    assert service.tile_exists(65536, 1, 0, 256)
    assert not service.tile_exists(65535, 1, 0, 256)
    assert not service.tile_exists(2**63 - 1, 8, 0, 1)


def _race_with_integrators(factory, signer, write, *, writers: int, max_leaves: int) -> None:  # type: ignore[no-untyped-def]
    """``write(seed)`` in ``writers`` threads while two background integrators run; raise what failed."""
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(seed: int) -> None:
        try:
            write(seed, random.Random(seed))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def integrator() -> None:
        try:
            while not stop.is_set():
                integrate(factory, signer, max_leaves=max_leaves)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s,)) for s in range(writers)]
    integrators = [threading.Thread(target=integrator) for _ in range(2)]
    for t in threads + integrators:
        t.start()
    for t in threads:
        t.join(60)
    stop.set()
    for t in integrators:
        t.join(60)
    assert not errors, errors


def _checkpoints_of_one_unforked_log(factory) -> list[LogCheckpoint]:  # type: ignore[no-untyped-def]
    """Every checkpoint, after checking that the last one covers every leaf and each is
    consistent with the one before it (with proofs from storage)."""
    with _read(factory) as session:
        size = service.tree_size(session)
        datas = [e.leaf_data for start in range(0, size, 1000) for e in service.entries(session, start)]
        assert len(datas) == size == repository.next_index(session)
        records = list(session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.size)))
        assert records[-1].root_hash == ref.mth(datas)
        for old, new in pairwise(records):
            proof = service.consistency_proof(session, old.size, new.size)
            merkle.verify_consistency(old.size, new.size, proof.hashes, old.root_hash, new.root_hash)
    return records


@pytest.mark.postgres_only
def test_concurrent_sequencers_and_integrators_never_fork(factory, signer):
    """Writers and two integrators racing on PostgreSQL: one checkpoint per size, all consistent."""

    def write(seed: int, rng: random.Random) -> None:
        for n in range(40):
            append(factory, leaf_datas(seed * 10_000 + n * 10, rng.randint(1, 5)))

    _race_with_integrators(factory, signer, write, writers=4, max_leaves=7)
    while integrate(factory, signer) is not None:
        pass
    assert len(_checkpoints_of_one_unforked_log(factory)) > 5  # the integrators really raced


def _sequence_and_integrate(factory, signer, datas):  # type: ignore[no-untyped-def]
    """What a submission batch does: sequence, then integrate, in one committed transaction."""
    for session in session_scope(factory):
        sequenced = service.sequence_many(session, datas, datetime.now(UTC))
        step = service.integrate_step(
            session, signer, ORIGIN, sequenced=(sequenced[0][0], [h for _, h in sequenced])
        )
    return step


@pytest.mark.postgres_only
def test_batches_that_sequence_and_integrate_race_background_integrators_without_a_fork(factory, signer):
    """On PostgreSQL ``sequence_many`` locks the tree head with the counter, and the integration
    that follows in the same transaction starts from the head it read there."""

    def write(seed: int, rng: random.Random) -> None:
        for n in range(30):
            step = _sequence_and_integrate(
                factory, signer, leaf_datas(seed * 10_000 + n * 10, rng.randint(1, 5))
            )
            assert step is not None

    _race_with_integrators(factory, signer, write, writers=3, max_leaves=3)
    _checkpoints_of_one_unforked_log(factory)


@pytest.mark.postgres_only
def test_a_head_read_in_a_rolled_back_savepoint_is_read_again(factory, signer):
    """Rolling a SAVEPOINT back releases the row locks taken in it: the head that sequencing read
    there may have moved on by the time the transaction integrates, and must not be used."""
    append(factory, leaf_datas(0, 2))
    assert integrate(factory, signer).size == 2
    for session in session_scope(factory):
        savepoint = session.begin_nested()
        service.sequence_many(session, leaf_datas(2, 1), datetime.now(UTC))  # reads and locks head 2
        savepoint.rollback()
        # Meanwhile another writer sequences and integrates (it could not while the lock was held).
        assert _sequence_and_integrate(factory, signer, leaf_datas(10, 1)).record.size == 3
        assert service.integrate_step(session, signer, ORIGIN) is None  # head 3, nothing pending
    with _read(factory) as session:
        assert service.tree_size(session) == 3
        sizes = session.scalars(select(LogCheckpoint.size).order_by(LogCheckpoint.size))
        assert list(sizes) == [2, 3]
