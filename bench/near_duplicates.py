"""Time near-duplicate photo search: the multi-index hash against a linear scan.

Run ``make bench``, or ``.venv/bin/python bench/near_duplicates.py [--items N] [--substrings M]``.
Indexes random 64-bit perceptual hashes plus planted near-duplicates, runs the same queries
through ``MultiIndexHash.search`` and through a tight linear scan over pre-parsed ints, checks
that both give the same answers, and prints the speed-up (goal: at least 10x).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time

from lianduinspect.rules.phash_index import MultiIndexHash, linear_scan, parse_phash

GOAL_SPEEDUP = 10.0


def _flip(value: int, bits: int, rng: random.Random) -> int:
    """Return ``value`` with ``bits`` distinct random bits flipped."""
    for bit in rng.sample(range(64), bits):
        value ^= 1 << bit
    return value


def _progress(label: str, done: int, total: int) -> None:
    """Draw a progress bar on stderr, every 1% and at the end."""
    if done % max(1, total // 100) and done != total:
        return
    filled = 30 * done // total
    end = "\n" if done == total else ""
    print(f"\r{label:>8} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}", end=end,
          file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print timings, the speed-up, and a one-line summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--planted", type=int, default=40, help="originals given near copies")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--max-distance", type=int, default=8)
    parser.add_argument("--substrings", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1616)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    d = args.max_distance

    hashes = [rng.getrandbits(64) for _ in range(args.items)]
    # Plant re-used photos: each original gets copies 0 (re-sent), 1..d (re-encoded, cropped) and
    # d+1 (just too far) bits away, so both sides of the limit are exercised.
    originals = rng.sample(range(args.items), args.planted)
    for position in originals:
        for bits in (0, 1, rng.randint(2, d), d, d + 1):
            hashes.append(_flip(hashes[position], bits, rng))
    items = [(f"p{i:06d}", f"{h:016x}") for i, h in enumerate(hashes)]
    ids = [item_id for item_id, _ in items]

    start = time.perf_counter()
    index = MultiIndexHash(max_distance=d, substrings=args.substrings)
    for n, (item_id, phash) in enumerate(items, 1):
        index.add(item_id, phash)
        _progress("build", n, len(items))
    t_build = time.perf_counter() - start

    # A third each: planted originals, near queries around random items, fresh random hashes.
    queries = []
    for q in range(args.queries):
        if q % 3 == 0:
            value = hashes[originals[q // 3 % len(originals)]]
        elif q % 3 == 1:
            value = _flip(hashes[rng.randrange(args.items)], rng.randint(0, d), rng)
        else:
            value = rng.getrandbits(64)
        queries.append(f"{value:016x}")

    def scan(phash: str) -> list[tuple[str, int]]:
        """Scan every hash: the fastest plain-Python linear baseline, over pre-parsed ints."""
        query = parse_phash(phash)
        found = [(ids[i], c) for i, h in enumerate(hashes) if (c := (query ^ h).bit_count()) <= d]
        return sorted(found, key=lambda match: (match[1], match[0]))

    # Each method runs over all queries in its own loop, so neither evicts the other's memory
    # from the CPU caches between queries.
    t_index, got = [], []
    for n, phash in enumerate(queries, 1):
        start = time.perf_counter()
        got.append(index.search(phash))
        t_index.append(time.perf_counter() - start)
        _progress("index", n, len(queries))
    t_scan, expected = [], []
    for n, phash in enumerate(queries, 1):
        start = time.perf_counter()
        expected.append(scan(phash))
        t_scan.append(time.perf_counter() - start)
        _progress("scan", n, len(queries))
    for phash, mine, theirs in zip(queries, got, expected):
        if mine != theirs:
            print(f"MISMATCH for {phash}: index {mine} != scan {theirs}", file=sys.stderr)
            return 1
    matches = sum(map(len, got))
    for phash in queries[:5]:  # the module's reference agrees with the fast baseline
        assert linear_scan(items, phash, d) == scan(phash)

    total_index, total_scan = sum(t_index), sum(t_scan)
    speedup = total_scan / total_index
    median = statistics.median
    print(f"items:            {len(items):,} ({args.items:,} random + {len(items) - args.items} planted)")
    print(f"index build:      {t_build:.2f} s ({args.substrings} substrings)")
    print(f"queries:          {len(queries)} at distance <= {d}, {matches} matches, identical answers")
    print(f"index search:     median {median(t_index) * 1e6:8.1f} µs/query, total {total_index * 1e3:8.1f} ms")
    print(f"linear scan:      median {median(t_scan) * 1e6:8.1f} µs/query, total {total_scan * 1e3:8.1f} ms")
    print(f"speed-up:         {speedup:.1f}x (goal >= {GOAL_SPEEDUP:g}x)")
    verdict = "met" if speedup >= GOAL_SPEEDUP else "NOT met"
    print(f"near_duplicates: {len(queries)} queries over {len(items):,} hashes, index {speedup:.1f}x "
          f"faster than a linear scan with identical answers; goal >= {GOAL_SPEEDUP:g}x {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
