"""Time the sync ingest against the floor of inserting the same rows with SQLAlchemy Core executemany.

Run ``make bench``, or ``.venv/bin/python bench/sync_ingest.py [--inspections N] [--items K]
[--http WORKERSxTHREADS,...] [--database-url postgresql+psycopg://...]``.

In one run, on temporary SQLite databases migrated with ``flask db upgrade`` and seeded alike:

1. service: N inspections of K item results each through ``services.inspections.sync`` in batches
   of 200 (validation, rules, audit and one commit per batch included), as the API would call it;
2. replay: the same batches again (every record must come back "exists");
3. floor: every row the service wrote (inspections, results, inspectors, photos, rectifications,
   audit events, the visits' new status), read back and inserted into a fresh copy with Core
   ``executemany`` in one transaction; and, for honesty, the same with sqlite3's own
   ``executemany`` (the driver floor: the service now writes that way, so it is the tighter one);
4. HTTP: gunicorn, as production runs it (``python -m gunicorn --workers W --threads T
   'lianduinspect:create_app()'``), taking POST /api/v1/sync in batches of 50 from as many client
   threads as the server has request slots, for each ``--http`` configuration; on the SQLite file,
   and on PostgreSQL too when ``--database-url`` names a database (a schema of the bench's own is
   created in it and dropped afterwards). Request bodies are encoded and responses decoded outside
   the clock, so the client's share of the two cores is the sockets alone.

Goals: service <= 4x the floor, replay <= 1x the floor, HTTP >= 1,500 inspections/s (the best
configuration of each database). A missed goal is printed as "goal NOT met"; the exit status is 0
unless the run itself failed.
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sqlalchemy as sa  # noqa: E402

from _db import PostgresSchema, bench_app  # noqa: E402
from lianduinspect.db import db, transaction  # noqa: E402
from lianduinspect.models import User  # noqa: E402

GOAL_SERVICE, GOAL_REPLAY, GOAL_HTTP = 4.0, 1.0, 1500.0
PASSWORD = "bench password 莲都"
WRITTEN = ("inspections", "item_results", "inspection_inspectors", "inspection_photos", "rectifications",
           "audit_events")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def progress(label: str, done: int, total: int) -> None:
    """Draw a one-line progress bar on stderr."""
    width = 30
    filled = int(width * done / total) if total else width
    sys.stderr.write(f"\r{label:<10} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def sqlite_url(path: str) -> str:
    return path if "://" in path else f"sqlite:///{path}"


def make_app(path: str, folder: str):
    return bench_app(sqlite_url(path), folder, storage=os.path.join(folder, "evidence"))


def seed(path: str, folder: str, visits: int, items: int, now: datetime | None = None) -> dict:
    """Migrate a database and fill it: one squad, two inspectors, a scene of `items` items, `visits` visits."""
    from flask_migrate import upgrade

    from lianduinspect.services.auth import hash_password

    app = make_app(path, folder)
    with app.app_context():
        upgrade()
        now = now or datetime.now(timezone.utc)
        with db.engine.begin() as conn:
            t = db.metadata.tables
            conn.execute(t["departments"].insert(), [
                {"id": 1, "code": "zhzf", "name": "综合行政执法", "short": "综合执法"},
                {"id": 2, "code": "scjg", "name": "市场监督管理", "short": "市场监管"}])
            conn.execute(t["areas"].insert(), [{"id": 1, "code": "zijin", "name": "紫金街道", "kind": "街道",
                                                "mode": "赋权", "lat": 28.45, "lon": 119.92}])
            conn.execute(t["squads"].insert(), [{"id": 1, "code": "chengdong", "name": "城东中队"}])
            conn.execute(t["squad_areas"].insert(), [{"squad_id": 1, "area_id": 1}])
            hashed = hash_password(PASSWORD)
            conn.execute(t["users"].insert(), [
                {"id": n, "username": f"zf{n}", "full_name": f"队员{n}", "password_hash": hashed, "department_id": n,
                 "squad_id": 1, "certificate_no": f"3311022000{n:02d}", "active": True, "created_at": now}
                for n in (1, 2)])
            conn.execute(t["user_roles"].insert(), [{"user_id": 1, "role": "inspector"},
                                                    {"user_id": 2, "role": "inspector"}])
            conn.execute(t["scenes"].insert(), [{"id": 1, "code": "canyin", "active": True, "current_version": 1}])
            conn.execute(t["scene_versions"].insert(), [{
                "id": 1, "scene_id": 1, "version": 1, "name": "餐饮服务场所", "category": "restaurant",
                "cadence": "monthly", "sample_kind": "all", "sample_value": 0, "departments": ["zhzf", "scjg"],
                "created_at": now}])
            conn.execute(t["checklist_items"].insert(), [{
                "id": k, "scene_version_id": 1, "code": f"CY-{k:02d}", "position": k, "department_id": 1 + k % 2,
                "text": f"检查项{k}：后厨卫生、证照公示、消防通道畅通", "legal_basis": "《中华人民共和国食品安全法》第三十三条",
                "severity": ("low", "medium", "high")[k % 3], "photo_required_on_fail": True}
                for k in range(1, items + 1)])
            conn.execute(t["targets"].insert(), [{
                "id": n, "name": f"丽水餐馆{n}", "credit_code": f"91331102{n:09d}X", "category": "restaurant",
                "area_id": 1, "address": f"丽水市莲都区中山街{n}号", "lat": 28.45, "lon": 119.92, "risk": "low",
                "active": True, "created_at": now, "updated_at": now} for n in range(1, 501)])
            start = now - timedelta(days=5)
            conn.execute(t["rounds"].insert(), [{
                "id": 1, "scene_id": 1, "scene_version_id": 1, "squad_id": 1, "period_key": "2024-05",
                "kind": "scheduled", "status": "in_progress", "window_start": start,
                "window_end": start + timedelta(days=30), "created_at": start}])
            conn.execute(t["round_members"].insert(), [{"round_id": 1, "user_id": 1}, {"round_id": 1, "user_id": 2}])
            conn.execute(t["visits"].insert(), [{
                "id": n, "round_id": 1, "target_id": 1 + n % 500, "code": f"v{n:08d}", "status": "pending",
                "planned_month": "2024-05", "overdue": False, "created_at": start, "updated_at": start}
                for n in range(1, visits + 1)])
            conn.execute(t["visit_rounds"].insert(), [{"visit_id": n, "round_id": 1} for n in range(1, visits + 1)])
        db.engine.dispose()
    return {"now": now}


def photo(label: str, at: datetime | None) -> dict:
    return {"sha256": hashlib.sha256(label.encode()).hexdigest(), "captured_at": at.isoformat() if at else None,
            "lat": 28.4501, "lon": 119.9202, "accuracy_m": 6.5}


def bodies(count: int, items: int, now: datetime, seed_: int = 7) -> list[dict]:
    """Return `count` sync entries as the PWA sends them: 1 in 5 with failures to rectify."""
    rng = random.Random(seed_)
    cst = timezone(timedelta(hours=8))
    out = []
    for n in range(1, count + 1):
        finished = (now - timedelta(hours=2, minutes=n % 600)).astimezone(cst)
        fails = set(rng.sample(range(1, items + 1), rng.choice((1, 2)))) if n % 5 == 0 else set()
        results = [{"item_id": k, "result": "fail" if k in fails else ("na" if k % 9 == 0 else "pass"),
                    "note": "灭火器过期，责令整改" if k in fails else None,
                    "photos": [photo(f"{n}/{k}", finished - timedelta(minutes=9))] if k in fails else []}
                   for k in range(1, items + 1)]
        out.append({"uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "body": {
            "visit_id": n, "supersedes": None, "inspector_ids": [1, 2],
            "started_at": (finished - timedelta(minutes=35)).isoformat(), "finished_at": finished.isoformat(),
            "location": {"lat": 28.4502, "lon": 119.9201, "accuracy_m": 8.0}, "results": results,
            "scene_photos": [photo(f"{n}/scene", None)], "outcome": "rectify" if fails else "pass",
            "notes": "现场检查，经营正常" if not fails else "发现问题，已当场告知", "late_reason": None,
            "signature_sha256": None}})
    return out


def run_service(path: str, folder: str, entries: list[dict], now: datetime, label: str, batch: int = 200):
    """Push the entries through the sync service in batches, one transaction each; return (seconds, statuses)."""
    from lianduinspect.services import inspections

    app = make_app(path, folder)
    statuses: dict[str, int] = {}
    with app.app_context():
        actor = db.session.get(User, 1)
        actor.roles  # noqa: B018  (load roles before timing)
        db.session.rollback()
        started = time.perf_counter()
        for offset in range(0, len(entries), batch):
            with transaction() as session:
                results = inspections.sync(session, actor, entries[offset:offset + batch], now=now)
            for r in results:
                statuses[r["status"]] = statuses.get(r["status"], 0) + 1
            progress(label, min(offset + batch, len(entries)), len(entries))
        elapsed = time.perf_counter() - started
        db.session.remove()
        db.engine.dispose()
    return elapsed, statuses


def written_columns(table: sa.Table) -> list[sa.Column]:
    """Return the columns a writer gives values for (the audit events' query columns are computed)."""
    return [column for column in table.columns if column.computed is None]


def run_floor(source: str, target: str, folder: str) -> tuple[float, int]:
    """Insert every row the service wrote into a fresh copy with Core executemany, in one transaction."""
    app = make_app(target, folder)
    with app.app_context():
        reader = sa.create_engine(f"sqlite:///{source}")
        tables = db.metadata.tables
        with reader.connect() as conn:
            rows = {name: [dict(r._mapping) for r in conn.execute(sa.select(*written_columns(tables[name])))]
                    for name in WRITTEN}
            visits = tables["visits"]
            changed = [{"b_id": r.id, "b_status": r.status, "b_updated_at": r.updated_at} for r in conn.execute(
                sa.select(visits.c.id, visits.c.status, visits.c.updated_at).where(visits.c.status != "pending"))]
            head = conn.execute(sa.select(tables["audit_head"])).one()
        reader.dispose()
        total = sum(len(v) for v in rows.values()) + len(changed)
        engine = db.engine
        started = time.perf_counter()
        with engine.begin() as conn:
            for name in WRITTEN:
                if rows[name]:
                    conn.execute(tables[name].insert(), rows[name])
            conn.execute(visits.update().where(visits.c.id == sa.bindparam("b_id"))
                         .values(status=sa.bindparam("b_status"), updated_at=sa.bindparam("b_updated_at")), changed)
            conn.execute(tables["audit_head"].update().values(seq=head.seq, hash=head.hash))
        elapsed = time.perf_counter() - started
        engine.dispose()
    return elapsed, total


def run_driver_floor(source: str, target: str) -> float:
    """Insert the same rows with sqlite3's own executemany, no SQLAlchemy at all, in one transaction."""
    import sqlite3

    reader = sqlite3.connect(source)
    columns = {name: ", ".join(c.name for c in written_columns(db.metadata.tables[name])) for name in WRITTEN}
    rows = {name: reader.execute(f"SELECT {columns[name]} FROM {name}").fetchall() for name in WRITTEN}
    changed = reader.execute("SELECT status, updated_at, id FROM visits WHERE status != 'pending'").fetchall()
    head = reader.execute("SELECT seq, hash FROM audit_head").fetchone()
    reader.close()
    # Opened as the app opens SQLite (db.py): WAL, full fsync, foreign keys.
    conn = sqlite3.connect(target, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    for name in WRITTEN:
        if rows[name]:
            marks = ", ".join("?" * len(rows[name][0]))
            conn.executemany(f"INSERT INTO {name} ({columns[name]}) VALUES ({marks})", rows[name])
    conn.executemany("UPDATE visits SET status = ?, updated_at = ? WHERE id = ?", changed)
    conn.execute("UPDATE audit_head SET seq = ?, hash = ?", head)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(port: int, method: str, url: str, body: bytes, headers: dict) -> tuple[int, bytes]:
    """One request on a fresh connection (gunicorn's sync workers close every connection)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(method, url, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def run_http(url: str, folder: str, payloads: list[bytes], sizes: list[int], *, workers: int, threads: int,
             label: str, log_path: str | None = None) -> tuple[float, dict]:
    """Send the encoded batches to gunicorn from one client thread per request slot; return (seconds, statuses)."""
    port = _free_port()
    env = {**os.environ, "LIANDUINSPECT_DATABASE_URL": url, "LIANDUINSPECT_SECRET_KEY": "bench",
           "LIANDUINSPECT_STORAGE_URL": os.path.join(folder, "evidence"),
           "LIANDUINSPECT_SIGNING_KEY_PATH": os.path.join(folder, "audit.pem")}
    log = open(log_path or os.path.join(folder, "gunicorn.log"), "ab")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", str(threads),
         "--bind", f"127.0.0.1:{port}", "--timeout", "120", "--graceful-timeout", "5", "lianduinspect:create_app()"],
        cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("gunicorn did not come up (--server-log keeps its log)")
            try:
                if _call(port, "GET", "/healthz", b"", {})[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        clients = max(2, workers * threads)
        login = json.dumps({"username": "zf1", "password": PASSWORD}).encode()
        sessions = []
        for _ in range(clients):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            conn.request("POST", "/api/v1/auth/login", body=login, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
            assert response.status == 200, data
            sessions.append({"Content-Type": "application/json",
                             "Cookie": response.getheader("Set-Cookie").split(";", 1)[0],
                             "X-CSRF-Token": json.loads(data)["csrf_token"]})
            conn.close()
        # Warm every worker (imports, the first connection, statement caches) outside the clock.
        for _ in range(workers * threads * 2):
            _call(port, "GET", "/api/v1/auth/me", b"", sessions[0])
        answers: list[tuple[int, bytes] | None] = [None] * len(payloads)
        lock = threading.Lock()
        done = [0]
        total = sum(sizes)

        def client(n: int) -> None:
            for k in range(n, len(payloads), clients):
                answers[k] = _call(port, "POST", "/api/v1/sync", payloads[k], sessions[n])
                with lock:
                    done[0] += sizes[k]
                    progress(label, done[0], total)

        started = time.perf_counter()
        pool = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        elapsed = time.perf_counter() - started
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        log.close()
    statuses: dict[str, int] = {}
    failures = [(status, data[:300]) for status, data in answers if status != 200]
    if failures:
        raise SystemExit(f"HTTP failures ({len(failures)}): {failures[:3]}")
    for _status, data in answers:
        for r in json.loads(data)["results"]:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    return elapsed, statuses


def encode_batches(entries: list[dict], batch: int = 50) -> tuple[list[bytes], list[int]]:
    """Encode the POST /sync bodies the phones would send, before any clock starts."""
    parts = [entries[i:i + batch] for i in range(0, len(entries), batch)]
    return [json.dumps({"inspections": p}, ensure_ascii=False).encode() for p in parts], [len(p) for p in parts]


def parse_configs(text: str) -> list[tuple[int, int]]:
    """Read "2x1,4x1,2x4" as (workers, threads) pairs."""
    out = []
    for part in text.split(","):
        workers, _, threads = part.strip().partition("x")
        out.append((int(workers), int(threads or 1)))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inspections", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="runs of service, replay and floor; the best counts")
    parser.add_argument("--http", default="2x1,3x1,4x1,2x2",
                        help="gunicorn configurations to time, WORKERSxTHREADS, comma-separated")
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL database to time HTTP on as well (a schema of its own is made and dropped)")
    parser.add_argument("--http-only", action="store_true", help="skip service, replay and floor")
    parser.add_argument("--server-log", default=None, help="append gunicorn's output to this file")
    args = parser.parse_args(argv)
    configs = parse_configs(args.http)
    folder = tempfile.mkdtemp(prefix="li-sync-bench-")
    pg = PostgresSchema(args.database_url, "sync") if args.database_url else None
    n = args.inspections
    lines: list[str] = []
    verdicts: list[bool] = []
    try:
        template = os.path.join(folder, "template.sqlite3")
        facts = seed(template, folder, n, args.items)
        entries = bodies(n, args.items, facts["now"])
        if not args.http_only:
            # The best of --repeat runs of each, interleaved, so that a busy machine skews both sides alike.
            service_s = replay_s = floor_s = driver_s = float("inf")
            for attempt in range(args.repeat):
                work, floor_db, driver_db = (os.path.join(folder, f"{name}{attempt}.sqlite3")
                                             for name in ("service", "floor", "driver"))
                for path in (work, floor_db, driver_db):
                    shutil.copyfile(template, path)
                seconds, created = run_service(work, folder, entries, facts["now"], f"service {attempt + 1}")
                service_s = min(service_s, seconds)
                seconds, replayed = run_service(work, folder, entries, facts["now"], f"replay {attempt + 1}")
                replay_s = min(replay_s, seconds)
                seconds, floor_rows = run_floor(work, floor_db, folder)
                floor_s = min(floor_s, seconds)
                driver_s = min(driver_s, run_driver_floor(work, driver_db))
                progress(f"floor {attempt + 1}", 1, 1)
                for path in (work, floor_db, driver_db):
                    os.remove(path)
            assert created == {"created": n}, created
            assert replayed == {"exists": n}, replayed
            service_ratio, replay_ratio = service_s / floor_s, replay_s / floor_s
            verdicts += [service_ratio <= GOAL_SERVICE, replay_ratio <= GOAL_REPLAY]
            lines.append(f"floor   {floor_s:7.3f} s  Core executemany of the same {floor_rows:,} rows, one transaction "
                         f"(best of {args.repeat})")
            lines.append(f"driver  {driver_s:7.3f} s  the same rows with sqlite3's executemany, no SQLAlchemy "
                         f"({driver_s / floor_s:.2f}x floor; the service writes this way now)")
            lines.append(f"service {service_s:7.3f} s  {service_ratio:5.2f}x floor (goal <= {GOAL_SERVICE:g}x) "
                         f"{'met' if service_ratio <= GOAL_SERVICE else 'goal NOT met'}, {service_s / driver_s:.2f}x "
                         f"the driver's  {n / service_s:,.0f} inspections/s")
            lines.append(f"replay  {replay_s:7.3f} s  {replay_ratio:5.2f}x floor (goal <= {GOAL_REPLAY:g}x) "
                         f"{'met' if replay_ratio <= GOAL_REPLAY else 'goal NOT met'}, {replay_s / driver_s:.2f}x "
                         f"the driver's")

        payloads, sizes = encode_batches(entries)
        best: dict[str, tuple[float, str]] = {}
        backends = [("sqlite", None)] + ([("postgresql", pg)] if pg else [])
        for backend, schema in backends:
            for workers, threads in configs:
                config = f"{workers}x{threads}"
                if schema is None:
                    # A file of its own per run: a copy over a used one would meet its old -wal file.
                    path = os.path.join(folder, f"http-{config}.sqlite3")
                    shutil.copyfile(template, path)
                    url = sqlite_url(path)
                else:
                    url = schema.reset()
                    seed(url, folder, n, args.items, facts["now"])
                seconds, over_http = run_http(url, folder, payloads, sizes, workers=workers, threads=threads,
                                              label=f"{backend[:6]} {config}", log_path=args.server_log)
                assert over_http == {"created": n}, over_http
                rate = n / seconds
                lines.append(f"http    {seconds:7.3f} s  {rate:6,.0f} inspections/s  {backend:<10} gunicorn "
                             f"--workers {workers} --threads {threads}, {max(2, workers * threads)} clients, "
                             f"batches of 50")
                if rate > best.get(backend, (0.0, ""))[0]:
                    best[backend] = (rate, config)
        for backend, (rate, config) in best.items():
            verdicts.append(rate >= GOAL_HTTP)
            lines.append(f"http    best {backend}: {rate:,.0f} inspections/s with {config} "
                         f"(goal >= {GOAL_HTTP:,.0f}) {'met' if rate >= GOAL_HTTP else 'goal NOT met'}")
        print("\n".join(lines))
        summary = [] if args.http_only else [f"service {service_ratio:.2f}x, replay {replay_ratio:.2f}x of the floor"]
        summary += [f"{rate:,.0f}/s over HTTP on {backend} ({config})" for backend, (rate, config) in best.items()]
        print(f"sync_ingest: {n:,} inspections x {args.items} items: {'; '.join(summary)} - "
              f"{'all goals met' if all(verdicts) else 'goal NOT met'}")
        return 0
    finally:
        if pg is not None:
            pg.drop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
