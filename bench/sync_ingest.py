"""Time the sync ingest against the floor of inserting the same rows with SQLAlchemy Core executemany.

Run ``make bench``, or ``.venv/bin/python bench/sync_ingest.py [--inspections N] [--items K]``.

In one run, on temporary SQLite databases migrated with ``flask db upgrade`` and seeded alike:

1. service: N inspections of K item results each through ``services.inspections.sync`` in batches
   of 200 (validation, rules, audit and one commit per batch included), as the API would call it;
2. replay: the same batches again (every record must come back "exists");
3. floor: every row the service wrote (inspections, results, inspectors, photos, rectifications,
   audit events, the visits' new status), read back and inserted into a fresh copy with Core
   ``executemany`` in one transaction;
4. HTTP: a real server process (werkzeug, threaded) taking POST /api/v1/sync in batches of 50 from
   two client threads.

Goals: service <= 4x the floor, replay <= 1x the floor, HTTP >= 1,500 inspections/s.
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import random
import shutil
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

from lianduinspect import create_app  # noqa: E402
from lianduinspect.db import db, transaction  # noqa: E402
from lianduinspect.models import User  # noqa: E402

GOAL_SERVICE, GOAL_REPLAY, GOAL_HTTP = 4.0, 1.0, 1500.0
PASSWORD = "bench password 莲都"
WRITTEN = ("inspections", "item_results", "inspection_inspectors", "inspection_photos", "rectifications",
           "audit_events")


def progress(label: str, done: int, total: int) -> None:
    """Draw a one-line progress bar on stderr."""
    width = 30
    filled = int(width * done / total) if total else width
    sys.stderr.write(f"\r{label:<10} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def make_app(path: str, folder: str):
    return create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "bench",
                       "STORAGE_URL": os.path.join(folder, "evidence"),
                       "SIGNING_KEY_PATH": os.path.join(folder, "audit.pem")})


def seed(path: str, folder: str, visits: int, items: int) -> dict:
    """Migrate a database and fill it: one squad, two inspectors, a scene of `items` items, `visits` visits."""
    from flask_migrate import upgrade

    from lianduinspect.services.auth import hash_password

    app = make_app(path, folder)
    with app.app_context():
        upgrade()
        now = datetime.now(timezone.utc)
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


def run_floor(source: str, target: str, folder: str) -> tuple[float, int]:
    """Insert every row the service wrote into a fresh copy with Core executemany, in one transaction."""
    app = make_app(target, folder)
    with app.app_context():
        reader = sa.create_engine(f"sqlite:///{source}")
        tables = db.metadata.tables
        with reader.connect() as conn:
            rows = {name: [dict(r._mapping) for r in conn.execute(sa.select(tables[name]))] for name in WRITTEN}
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVER = """
import sys
from werkzeug.serving import run_simple
from lianduinspect import create_app
app = create_app({"DATABASE_URL": sys.argv[1], "SECRET_KEY": "bench", "STORAGE_URL": sys.argv[2],
                  "SIGNING_KEY_PATH": sys.argv[2] + "/audit.pem"})
run_simple("127.0.0.1", int(sys.argv[3]), app, threaded=True)
"""


def run_http(path: str, folder: str, entries: list[dict], batch: int = 50, clients: int = 2):
    """Send the entries to a real server process from `clients` threads; return (seconds, statuses)."""
    port = _free_port()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    server = subprocess.Popen([sys.executable, "-c", SERVER, f"sqlite:///{path}", folder, str(port)], cwd=root,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)

        def call(conn, method, url, payload, headers):
            conn.request(method, url, body=json.dumps(payload, ensure_ascii=False).encode(), headers=headers)
            response = conn.getresponse()
            return response, response.read()

        sessions = []
        for _ in range(clients):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            response, data = call(conn, "POST", "/api/v1/auth/login", {"username": "zf1", "password": PASSWORD},
                                  {"Content-Type": "application/json"})
            assert response.status == 200, data
            cookie = response.getheader("Set-Cookie").split(";", 1)[0]
            sessions.append({"Content-Type": "application/json", "Cookie": cookie,
                             "X-CSRF-Token": json.loads(data)["csrf_token"]})
            conn.close()
        batches = [entries[i:i + batch] for i in range(0, len(entries), batch)]
        lock = threading.Lock()
        statuses: dict[str, int] = {}
        done = [0]
        failures = []

        def worker(n: int):
            for k in range(n, len(batches), clients):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                response, data = call(conn, "POST", "/api/v1/sync", {"inspections": batches[k]}, sessions[n])
                conn.close()
                with lock:
                    if response.status != 200:
                        failures.append((response.status, data[:300]))
                        continue
                    for r in json.loads(data)["results"]:
                        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
                    done[0] += len(batches[k])
                    progress("http", done[0], len(entries))

        started = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        if failures:
            raise SystemExit(f"HTTP failures: {failures[:3]}")
        return elapsed, statuses
    finally:
        server.terminate()
        server.wait(timeout=10)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inspections", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="runs of service, replay and floor; the best counts")
    args = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="li-sync-bench-")
    try:
        template = os.path.join(folder, "template.sqlite3")
        facts = seed(template, folder, args.inspections, args.items)
        entries = bodies(args.inspections, args.items, facts["now"])
        # The best of --repeat runs of each, interleaved, so that a busy machine skews both sides alike.
        service_s = replay_s = floor_s = float("inf")
        for attempt in range(args.repeat):
            work, floor_db = (os.path.join(folder, f"{name}{attempt}.sqlite3") for name in ("service", "floor"))
            shutil.copyfile(template, work)
            shutil.copyfile(template, floor_db)
            seconds, created = run_service(work, folder, entries, facts["now"], f"service {attempt + 1}")
            service_s = min(service_s, seconds)
            seconds, replayed = run_service(work, folder, entries, facts["now"], f"replay {attempt + 1}")
            replay_s = min(replay_s, seconds)
            seconds, floor_rows = run_floor(work, floor_db, folder)
            floor_s = min(floor_s, seconds)
            progress(f"floor {attempt + 1}", 1, 1)
            for path in (work, floor_db):
                os.remove(path)
        http_db = os.path.join(folder, "http.sqlite3")
        shutil.copyfile(template, http_db)
        http_s, over_http = run_http(http_db, folder, entries)

        n = args.inspections
        assert created == {"created": n}, created
        assert replayed == {"exists": n}, replayed
        assert over_http == {"created": n}, over_http
        service_ratio, replay_ratio, rate = service_s / floor_s, replay_s / floor_s, n / http_s
        print(f"floor   {floor_s:7.3f} s  Core executemany of the same {floor_rows:,} rows, one transaction "
              f"(best of {args.repeat})")
        print(f"service {service_s:7.3f} s  {service_ratio:5.2f}x floor (goal <= {GOAL_SERVICE:g}x)  "
              f"{n / service_s:,.0f} inspections/s")
        print(f"replay  {replay_s:7.3f} s  {replay_ratio:5.2f}x floor (goal <= {GOAL_REPLAY:g}x)")
        print(f"http    {http_s:7.3f} s  {rate:,.0f} inspections/s (goal >= {GOAL_HTTP:,.0f}), batches of 50, "
              f"2 client threads")
        ok = service_ratio <= GOAL_SERVICE and replay_ratio <= GOAL_REPLAY and rate >= GOAL_HTTP
        print(f"sync_ingest: {n:,} inspections x {args.items} items: service {service_ratio:.2f}x, "
              f"replay {replay_ratio:.2f}x of the floor; {rate:,.0f}/s over HTTP - {'OK' if ok else 'MISSED'}")
        return 0 if ok else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
