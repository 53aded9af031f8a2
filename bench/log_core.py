"""Benchmark of the pure transparency-log core (lnx_client.core.merkle); not a test.

Prints, for a tree of N leaves (default 1,000,000):
- raw hashlib SHA-256 calls/s on 65-byte inputs (the baseline, measured in the same run);
- CompactRange append rate (leaves/s) while storing every completed node in a dict;
- root_from_leaf_hashes over all N leaf hashes (seconds);
- inclusion and consistency proof generation from the in-memory node dict (p50/p99 µs),
  and inclusion proof verification (p50/p99 µs);
with the ratios to the baseline, so runs on different machines can be compared.

Usage: .venv/bin/python bench/log_core.py [--leaves N] [--proofs K] [--seed S]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import time
from collections.abc import Callable, Sequence
from functools import partial

from lnx_client.core.merkle import (
    CompactRange,
    NodeID,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    verify_inclusion,
)


def sha256_calls_per_second(n: int) -> float:
    """Baseline: n SHA-256 calls over 65-byte inputs, the size of an interior-node preimage."""
    data = [b"\x01" + i.to_bytes(64, "big") for i in range(n)]
    sha = hashlib.sha256
    start = time.perf_counter()
    for d in data:
        sha(d).digest()
    return n / (time.perf_counter() - start)


def percentiles_us(samples: Sequence[float]) -> tuple[float, float]:
    qs = statistics.quantiles(samples, n=100, method="inclusive")
    return qs[49] * 1e6, qs[98] * 1e6


def time_each(calls: Sequence[Callable[[], object]]) -> list[float]:
    out = []
    clock = time.perf_counter
    for call in calls:
        start = clock()
        call()
        out.append(clock() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    n = args.leaves
    rnd = random.Random(args.seed)

    baseline = sha256_calls_per_second(n)
    print(f"baseline  hashlib sha256 (65 B):          {baseline:>12,.0f} calls/s")

    leaves = [leaf_hash(i.to_bytes(8, "big")) for i in range(n)]

    rng = CompactRange()
    store: dict[NodeID, bytes] = {}
    start = time.perf_counter()
    for h in leaves:
        store.update(rng.append(h))
    append_s = time.perf_counter() - start
    rate = n / append_s
    print(
        f"append    CompactRange to {n:,} leaves:  {rate:>12,.0f} leaves/s"
        f"   ({rate / baseline:.2f}x sha256 calls/s; {len(store):,} nodes stored)"
    )

    start = time.perf_counter()
    root = root_from_leaf_hashes(leaves)
    root_s = time.perf_counter() - start
    assert root == rng.root()
    print(
        f"root      root_from_leaf_hashes({n:,}):  {root_s:>12.3f} s"
        f"        ({root_s * baseline / n:.2f}x the time of {n:,} sha256 calls)"
    )

    def get_nodes(ids: Sequence[NodeID]) -> list[bytes]:
        return [store[i] for i in ids]

    indexes = [rnd.randrange(n) for _ in range(args.proofs)]
    incl = time_each([partial(inclusion_proof, i, n, get_nodes) for i in indexes])
    p50, p99 = percentiles_us(incl)
    print(f"inclusion proof at {n:,} leaves:          p50 {p50:>7.1f} µs   p99 {p99:>7.1f} µs")

    firsts = [rnd.randrange(1, n) for _ in range(args.proofs)]
    cons = time_each([partial(consistency_proof, f, n, get_nodes) for f in firsts])
    p50, p99 = percentiles_us(cons)
    print(f"consistency proof to {n:,} leaves:        p50 {p50:>7.1f} µs   p99 {p99:>7.1f} µs")

    proofs = [(i, inclusion_proof(i, n, get_nodes)) for i in indexes[:5000]]
    ver = time_each([partial(verify_inclusion, leaves[i], i, n, p, root) for i, p in proofs])
    p50, p99 = percentiles_us(ver)
    hashes_per_proof = statistics.mean(len(p) for _, p in proofs)
    print(
        f"verify inclusion at {n:,} leaves:         p50 {p50:>7.1f} µs   p99 {p99:>7.1f} µs"
        f"   ({hashes_per_proof:.1f} hashes/proof; sha256 alone {hashes_per_proof / baseline * 1e6:.1f} µs)"
    )


if __name__ == "__main__":
    main()
