"""Nothing lost, nothing duplicated: a real server behind a proxy that cuts connections, and a server
that is killed mid-sync. The phone replays its outbox until every entry is acknowledged."""
from __future__ import annotations

import hashlib
import io
import os
import random
import sqlite3
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image
from sqlalchemy import func, select

from lianduinspect.db import db
from lianduinspect.models import AuditEvent, Evidence, Inspection, InspectionPhoto
from lianduinspect.storage import from_config

from ..factories import PASSWORD, make_round, make_target
from ..inspection_bodies import body, visits_of
from .chaos_proxy import ChaosProxy
from .harness import Server
from .phone import Phone

pytestmark = pytest.mark.server


def _photo(n: int, big: bool) -> bytes:
    rng = random.Random(n)
    size = (1600, 1200) if big else (480, 360)
    im = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    pixels = im.load()
    for _ in range(400):  # specks make every photo distinct and not trivially compressible
        pixels[rng.randrange(size[0]), rng.randrange(size[1])] = (rng.randrange(256),) * 3
    out = io.BytesIO()
    im.save(out, "JPEG", quality=92)
    return out.getvalue()


def _field_day(app, world, session, visits: int, photos: int, seed: int):
    """Seed a round of `visits` visits; return the phone's photos and inspections for it."""
    now = datetime.now(timezone.utc)
    targets = [make_target(session, world.areas[0]) for _ in range(visits)]
    rnd = make_round(session, world.scene, world.squad, [world.inspector, world.partner], targets,
                     period_key=now.strftime("%Y-%m"), window_start=now - timedelta(days=2),
                     window_end=now + timedelta(days=20))
    session.commit()
    pictures = [_photo(seed * 1000 + n, big=(n % 10 == 0)) for n in range(photos)]
    inspections = []
    for n, visit in enumerate(visits_of(session, rnd)):
        scene_photos = []
        if n < photos:
            scene_photos = [{"sha256": hashlib.sha256(pictures[n]).hexdigest(), "captured_at": None, "lat": None,
                             "lon": None, "accuracy_m": None}]
        inspections.append((str(uuid.uuid4()), body(world, visit, now=now, scene_photos=scene_photos)))
    return pictures, inspections


def _server_env(app) -> dict:
    return {"LIANDUINSPECT_DATABASE_URL": app.config["DATABASE_URL"],
            "LIANDUINSPECT_STORAGE_URL": app.config["STORAGE_URL"],
            "LIANDUINSPECT_SECRET_KEY": "network-test", "LIANDUINSPECT_SESSION_COOKIE_SECURE": "false"}


def _assert_server_holds_exactly(app, pictures, inspections):
    """The server has each inspection once and each photo byte for byte; nothing else."""
    with app.app_context():
        session = db.session
        stored = set(session.scalars(select(Inspection.uuid)))
        assert stored == {u for u, _ in inspections}
        submits = session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "inspection.submit"))
        assert submits == len(inspections)
        hashes = {hashlib.sha256(p).hexdigest() for p in pictures}
        assert set(session.scalars(select(Evidence.sha256))) == hashes
        storage = from_config(app.config["STORAGE_URL"])
        for digest in hashes:
            with storage.open(digest) as fh:
                assert hashlib.sha256(fh.read()).hexdigest() == digest
        incomplete = session.scalar(select(func.count()).select_from(Inspection)
                                    .where(Inspection.evidence_complete.is_(False)))
        assert incomplete == 0
        assert session.scalar(select(func.count()).select_from(InspectionPhoto)) == len(pictures)


def test_cut_connections_lose_nothing_and_duplicate_nothing(app, world, session, tmp_path):
    seed = int(os.environ.get("LIANDUINSPECT_CHAOS_SEED", random.randrange(1 << 30)))
    print(f"chaos seed: {seed} (set LIANDUINSPECT_CHAOS_SEED to replay)")
    pictures, inspections = _field_day(app, world, session, visits=300, photos=100, seed=seed)
    with Server(_server_env(app), log_path=tmp_path / "server.log") as server, \
            ChaosProxy(server.port, seed=seed, cut_share=0.3) as proxy:
        phone = Phone(proxy.port, world.inspector.username, PASSWORD)
        for n, (key, record) in enumerate(inspections):
            if n < len(pictures):
                phone.queue_photo(pictures[n])
            phone.queue_inspection(key, record)
        phone.flush(deadline=time.monotonic() + 420)
    print(f"requests {phone.attempts}, retried {phone.retries}, proxy {proxy.stats}")
    assert phone.outbox == [] and phone.set_aside == []
    assert proxy.stats.cut_in_request > 10 and proxy.stats.cut_in_response > 10
    _assert_server_holds_exactly(app, pictures, inspections)


def test_killing_the_server_mid_sync_loses_nothing(app, world, session, tmp_path):
    seed = int(os.environ.get("LIANDUINSPECT_CHAOS_SEED", random.randrange(1 << 30)))
    print(f"kill seed: {seed}")
    rng = random.Random(seed)
    pictures, inspections = _field_day(app, world, session, visits=120, photos=40, seed=seed)
    server = Server(_server_env(app), log_path=tmp_path / "server.log").start()
    phone = Phone(server.port, world.inspector.username, PASSWORD)
    for n, (key, record) in enumerate(inspections):
        if n < len(pictures):
            phone.queue_photo(pictures[n])
        phone.queue_inspection(key, record)
    stop = threading.Event()
    kills = []

    def crash_now_and_then():
        while not stop.is_set() and len(kills) < 6:
            time.sleep(rng.uniform(0.3, 1.5))
            if stop.is_set():
                return
            server.kill()
            kills.append(len(phone.outbox))
            server.start()

    killer = threading.Thread(target=crash_now_and_then, daemon=True)
    killer.start()
    try:
        phone.flush(deadline=time.monotonic() + 300)
    finally:
        stop.set()
        killer.join(timeout=60)
        server.stop()
    print(f"killed {len(kills)} times (outbox sizes then: {kills}); requests {phone.attempts}, retried {phone.retries}")
    assert len(kills) >= 2, "the server was not killed during the sync"
    assert phone.outbox == [] and phone.set_aside == []
    _assert_server_holds_exactly(app, pictures, inspections)


def test_the_same_proxy_does_duplicate_a_non_idempotent_endpoint(tmp_path):
    """The control: without idempotency, retries after a cut answer write twice, so the test above can fail."""
    seed = int(os.environ.get("LIANDUINSPECT_CHAOS_SEED", random.randrange(1 << 30)))
    print(f"control seed: {seed}")
    naive_db = tmp_path / "naive.sqlite3"
    env = {"NAIVE_DB": str(naive_db), "PYTHONPATH": os.getcwd()}
    sent = 150
    with Server(env, app="tests.server.naive_app:app", log_path=tmp_path / "naive.log") as server, \
            ChaosProxy(server.port, seed=seed, cut_share=0.4) as proxy:
        phone = Phone(proxy.port, "nobody", "-")
        phone.cookie = "none"  # the naive app has no sign-in
        for n in range(sent):
            while True:
                try:
                    response, _ = phone.request("POST", "/append", f"row {n}".encode())
                    if response.status == 201:
                        break
                except Exception:  # a cut: retry, as any client would
                    time.sleep(0.01)
    rows = sqlite3.connect(naive_db).execute("SELECT count(*) FROM rows").fetchone()[0]
    print(f"sent {sent} distinct rows, the server holds {rows}")
    assert rows > sent
