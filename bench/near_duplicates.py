"""Time near-duplicate photo search: the multi-index hash and the database look-up against a linear scan.

Run ``make bench``, or ``.venv/bin/python bench/near_duplicates.py [--items N] [--substrings M]``.
Indexes random 64-bit perceptual hashes plus planted near-duplicates, runs the same queries
through ``MultiIndexHash.search``, through a tight linear scan over pre-parsed ints, and through
``services.authenticity.near_hashes`` over the same hashes stored as evidence rows in a temporary
SQLite database migrated with flask-migrate's ``upgrade`` (the four indexed substring columns),
checks that all give the same answers, and prints the speed-ups (goals: at least 10x each). It
also times what each photo upload used to pay before the look-up moved into the database: reading
every stored hash and building a ``MultiIndexHash`` of them.

A missed goal is printed as "goal NOT met" and the script still exits 0; different answers exit 1.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone

import sqlalchemy as sa

from lianduinspect.rules.phash_index import MultiIndexHash, linear_scan, parse_phash

GOAL_SPEEDUP = 10.0
GOAL_DB_SPEEDUP = 10.0


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


def _database(folder: str, hashes: list[int], url: str | None = None):
    """Return an app on a migrated database (a SQLite file in ``folder`` by default) holding every hash as an evidence row."""
    from flask_migrate import upgrade

    from _db import bench_app
    from lianduinspect.db import db
    from lianduinspect.models import Evidence, User, phash_columns

    app = bench_app(url or f"sqlite:///{os.path.join(folder, 'bench.sqlite3')}", folder)
    at = datetime(2024, 1, 1, tzinfo=timezone.utc)
    with app.app_context():
        upgrade()
        with db.engine.begin() as conn:
            conn.execute(sa.insert(User.__table__), [{"id": 1, "username": "bench", "full_name": "bench",
                                                      "password_hash": "-", "active": True, "created_at": at}])
            batch = 5_000
            for start in range(0, len(hashes), batch):
                rows = [{"sha256": f"{n:064x}", "size": 1, "format": "jpeg", "width": 1, "height": 1, "facts": {},
                         "phash": f"{h:016x}", **phash_columns(f"{h:016x}"), "uploaded_by_id": 1,
                         "uploaded_at": at} for n, h in enumerate(hashes[start:start + batch], start)]
                conn.execute(sa.insert(Evidence.__table__), rows)
                _progress("store", min(start + batch, len(hashes)), len(hashes))
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("ANALYZE")
        if db.engine.dialect.name == "postgresql":  # as autovacuum would have: statistics, the visibility map
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE evidence")
    return app


def _measure_database(hashes: list[int], queries: list[str], expected: list, by_hash, d: int,
                      url: str | None) -> dict | None:
    """Time ``near_hashes`` on a database holding the hashes (SQLite unless ``url``); None if an answer differs."""
    from lianduinspect.db import db
    from lianduinspect.services.authenticity import near_hashes, rotations

    with tempfile.TemporaryDirectory(prefix="near-duplicates-bench-") as folder:
        app = _database(folder, hashes, url)
        with app.app_context():
            session = db.session
            session.execute(sa.text("SELECT 1"))  # connect before the clock starts, as a running app is
            backend = db.engine.dialect.name
            t_db, from_db, statements = [], [], []
            sa.event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(1))
            for n, phash in enumerate(queries, 1):
                start = time.perf_counter()
                from_db.append(near_hashes(session, {0: [parse_phash(phash)]}, d).get(0, {}))
                t_db.append(time.perf_counter() - start)
                _progress(backend[:8], n, len(queries))
            per_query = len(statements) / len(queries)
            for phash, mine, theirs in zip(queries, from_db, expected):
                if mine != by_hash(theirs):
                    print(f"MISMATCH for {phash}: {backend} {mine} != scan {by_hash(theirs)}", file=sys.stderr)
                    return None
            # An upload searches the photo in its four quarter turns; one call per photo, as the
            # service makes for a record of one photo.
            t_upload = []
            for n, phash in enumerate(queries, 1):
                turns = [parse_phash(h) for h in rotations(phash)]
                start = time.perf_counter()
                near_hashes(session, {0: turns}, d)
                t_upload.append(time.perf_counter() - start)
                _progress("upload", n, len(queries))
            # What every upload paid before: read every stored hash, index them all.
            start = time.perf_counter()
            old = MultiIndexHash(max_distance=d)
            for n, phash in enumerate(session.scalars(sa.text("SELECT phash FROM evidence"))):
                old.add(n, phash)
            t_old = time.perf_counter() - start
            session.remove()
            db.engine.dispose()
    return {"times": t_db, "per_query": per_query, "upload": t_upload, "old": t_old}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print timings, the speed-up, and a one-line summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--planted", type=int, default=40, help="originals given near copies")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--max-distance", type=int, default=8)
    parser.add_argument("--substrings", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1616)
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL database to measure on too, in a schema of the bench's own "
                             "(default: SQLite only)")
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

    def by_hash(found: list[tuple[str, int]]) -> dict[str, int]:
        """Key matches by their hash: the database answers with distinct stored hashes."""
        return {f"{hashes[int(item_id[1:])]:016x}": distance for item_id, distance in found}

    from lianduinspect.services.authenticity import rotations

    t_upload_scan = []
    for n, phash in enumerate(queries[:30], 1):
        turns = [parse_phash(h) for h in rotations(phash)]
        start = time.perf_counter()
        [h for h in hashes if min((h ^ t).bit_count() for t in turns) <= d]
        t_upload_scan.append(time.perf_counter() - start)
        _progress("scan x4", n, 30)
    measured = {"SQLite": _measure_database(hashes, queries, expected, by_hash, d, None)}
    if args.database_url:
        from _db import postgres_schema

        with postgres_schema(args.database_url, "near") as url:
            measured["PostgreSQL"] = _measure_database(hashes, queries, expected, by_hash, d, url)
    if any(result is None for result in measured.values()):
        return 1

    total_index, total_scan = sum(t_index), sum(t_scan)
    speedup = total_scan / total_index
    db_speedups = {name: total_scan / sum(result["times"]) for name, result in measured.items()}
    median = statistics.median
    print(f"items:            {len(items):,} ({args.items:,} random + {len(items) - args.items} planted)")
    print(f"index build:      {t_build:.2f} s ({args.substrings} substrings)")
    print(f"queries:          {len(queries)} at distance <= {d}, {matches} matches, identical answers")
    print(f"index search:     median {median(t_index) * 1e6:8.1f} µs/query, total {total_index * 1e3:8.1f} ms")
    for name, result in measured.items():
        print(f"database lookup:  median {median(result['times']) * 1e6:8.1f} µs/query, "
              f"total {sum(result['times']) * 1e3:8.1f} ms ({result['per_query']:g} statement/query, {name})")
    print(f"linear scan:      median {median(t_scan) * 1e6:8.1f} µs/query, total {total_scan * 1e3:8.1f} ms")
    print(f"speed-up:         index {speedup:.1f}x (goal >= {GOAL_SPEEDUP:g}x), "
          + ", ".join(f"database {name} {x:.1f}x" for name, x in db_speedups.items())
          + f" (goal >= {GOAL_DB_SPEEDUP:g}x)")
    for name, result in measured.items():
        print(f"per upload:       {name}, 4 turns: median {median(result['upload']) * 1e3:.2f} ms; linear scan, "
              f"4 turns: median {median(t_upload_scan) * 1e3:.1f} ms; before (read all + index): "
              f"{result['old'] * 1e3:.0f} ms")
    met = speedup >= GOAL_SPEEDUP and all(x >= GOAL_DB_SPEEDUP for x in db_speedups.values())
    print(f"near_duplicates: {len(queries)} queries over {len(items):,} hashes, index {speedup:.1f}x and "
          + ", ".join(f"{name} {x:.1f}x" for name, x in db_speedups.items())
          + f" faster than a linear scan with identical answers; goal >= {GOAL_SPEEDUP:g}x {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
