"""A real server process and Debian's Chromium driven by Playwright, for the PWA's browser tests.

One server per test module: a temp SQLite database migrated with `flask db upgrade`, the demo loaded
with `flask demo load`, the app served by `flask run` on a free port. Chromium runs headless with the
flags the brief names. Tests are skipped only when /usr/bin/chromium is absent (`make test` installs it).
"""
from __future__ import annotations

import io
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "liandu2023"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
PHONE = {"width": 360, "height": 740}

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _flask(env: dict, *args: str, timeout: int = 600) -> str:
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "lianduinspect", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


class Api:
    """A tiny JSON client with its own cookie jar, for setting up and checking through the real API."""

    def __init__(self, base: str):
        self.base = base
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.csrf = ""
        self.user = None

    def call(self, method: str, path: str, body=None, *, raw: bytes | None = None, headers=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        h = {"Accept": "application/json", **(headers or {})}
        if body is not None:
            h["Content-Type"] = "application/json"
        if method not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = self.csrf
        request = urllib.request.Request(self.base + "/api/v1" + path, data=data, method=method, headers=h)
        try:
            with self.opener.open(request, timeout=30) as response:
                text = response.read()
                return response.status, (json.loads(text) if text and "json" in response.headers.get(
                    "Content-Type", "") else None)
        except urllib.error.HTTPError as err:
            text = err.read()
            try:
                return err.code, json.loads(text)
            except ValueError:
                return err.code, None

    def login(self, username: str, password: str = PASSWORD) -> "Api":
        status, body = self.call("POST", "/auth/login", {"username": username, "password": password})
        assert status == 200, body
        self.csrf = body["csrf_token"]
        self.user = body["user"]
        return self


@dataclass
class Server:
    base: str
    db_path: Path
    env: dict
    process: subprocess.Popen
    users: list = field(default_factory=list)

    def api(self, username: str | None = None) -> Api:
        client = Api(self.base)
        return client.login(username) if username else client

    def sql(self, query: str, params=()) -> list:
        conn = sqlite3.connect(self.db_path, timeout=30)
        try:
            rows = conn.execute(query, params).fetchall()
            conn.commit()
        finally:
            conn.close()
        return rows


def _wait_up(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server process exited: " + (process.stderr.read() if process.stderr else ""))
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not come up")


def _make_round(server: Server) -> None:
    """Give a squad a current open round with visits when the demo has none for it (until the
    scheduler's demo rounds land this keeps the journey testable); written with the app's own models."""
    from lianduinspect import create_app
    from lianduinspect.db import db
    from lianduinspect.models import Round, RoundMember, Scene, SceneVersion, Target, User, Visit, VisitRound

    app = create_app({"DATABASE_URL": f"sqlite:///{server.db_path}", "SECRET_KEY": "browser-tests",
                      "STORAGE_URL": server.env["LIANDUINSPECT_STORAGE_URL"],
                      "SIGNING_KEY_PATH": server.env["LIANDUINSPECT_SIGNING_KEY_PATH"]})
    now = datetime.now(timezone.utc)
    with app.app_context():
        session = db.session
        leader = session.scalars(db.select(User).where(User.username.like("zdz_%")).order_by(User.id)).first()
        team = [u for u in session.scalars(db.select(User).where(User.squad_id == leader.squad_id).order_by(User.id))
                if u.certificate_no and u.has("inspector")][:3]
        version = session.scalars(db.select(SceneVersion).join(Scene).order_by(Scene.id)).first()
        targets = session.scalars(db.select(Target).where(Target.category == version.category, Target.active)
                                  .order_by(Target.id).limit(3)).all()
        rnd = Round(scene_id=version.scene_id, scene_version_id=version.id, squad_id=leader.squad_id,
                    period_key=now.strftime("%Y-%m"), kind="campaign", status="in_progress",
                    title=f"{version.name}（浏览器测试）", window_start=now - timedelta(days=1),
                    window_end=now + timedelta(days=14), created_at=now, created_by_id=leader.id)
        session.add(rnd)
        session.flush()
        for user in team:
            session.add(RoundMember(round_id=rnd.id, user_id=user.id))
        rng = random.Random(7)
        for target in targets:
            code = "".join(rng.choice("ABCDEFGHJKMNPQRSTUVWXYZ23456789") for _ in range(10))
            visit = Visit(round_id=rnd.id, target_id=target.id, code=code, status="pending",
                          planned_month=now.strftime("%Y-%m"), created_at=now, updated_at=now)
            session.add(visit)
            session.flush()
            session.add(VisitRound(visit_id=visit.id, round_id=rnd.id))
        session.commit()
        db.engine.dispose()


def serve(env: dict, port: int, root: Path = ROOT) -> subprocess.Popen:
    """Start `flask run` for the app found in `root` on a port and wait until it answers."""
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "lianduinspect", "run", "--host", "127.0.0.1",
                                "--port", str(port), "--no-reload", "--no-debugger", "--with-threads"],
                               env={**env, "PYTHONPATH": str(root)}, cwd=root, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    _wait_up(f"http://127.0.0.1:{port}", process)
    return process


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A migrated, demo-loaded database and `flask run` serving the app on a free port."""
    folder = tmp_path_factory.mktemp("browser-server")
    db_path = folder / "li.sqlite3"
    env = {**os.environ,
           "LIANDUINSPECT_DATABASE_URL": f"sqlite:///{db_path}",
           "LIANDUINSPECT_STORAGE_URL": str(folder / "evidence"),
           "LIANDUINSPECT_SIGNING_KEY_PATH": str(folder / "audit.pem"),
           "LIANDUINSPECT_SECRET_KEY": "browser-tests",
           "LIANDUINSPECT_SCHEDULER_ENABLED": "false",
           "PYTHONWARNINGS": "ignore"}
    _flask(env, "db", "upgrade")
    printed = _flask(env, "demo", "load")
    port = _free_port()
    process = serve(env, port)
    srv = Server(base=f"http://127.0.0.1:{port}", db_path=db_path, env=env, process=process)
    try:
        if not _inspector_with_round(srv):
            _make_round(srv)
        srv.users = printed
        yield srv
    finally:
        stop(process)


def _inspector_with_round(server: Server) -> str | None:
    """Return the username of a plain inspector on an open round's team with pending visits, if any."""
    rows = server.sql(
        "SELECT u.username FROM users u JOIN round_members m ON m.user_id = u.id JOIN rounds r ON r.id = m.round_id "
        "JOIN user_roles ur ON ur.user_id = u.id AND ur.role = 'inspector' "
        "WHERE r.status NOT IN ('cancelled', 'completed') AND u.certificate_no IS NOT NULL "
        "AND u.username NOT LIKE 'zdz_%' "
        "AND EXISTS (SELECT 1 FROM visits v WHERE v.round_id = r.id AND v.status = 'pending') "
        "AND (SELECT count(*) FROM round_members m2 JOIN users u2 ON u2.id = m2.user_id "
        "     WHERE m2.round_id = r.id AND u2.certificate_no IS NOT NULL) >= 2 "
        "ORDER BY r.window_end DESC, r.id, u.id LIMIT 1")
    return rows[0][0] if rows else None


@pytest.fixture(scope="module")
def inspector(server) -> str:
    name = _inspector_with_round(server)
    assert name, "no inspector on an open round"
    return name


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class ConsoleWatch:
    """Collect console errors and uncaught page errors; some network refusals are expected by a test."""

    def __init__(self):
        self.errors: list[str] = []
        self.allowed: list[str] = []

    def attach(self, page):
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        return page

    def allow(self, fragment: str):
        self.allowed.append(fragment)

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(a in e for a in self.allowed)]


@pytest.fixture
def console():
    return ConsoleWatch()


@pytest.fixture
def context(browser, server):
    """A phone-sized browser context with geolocation near Liandu (Lishui)."""
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True,
                              locale="zh-CN", timezone_id="Asia/Shanghai", base_url=server.base,
                              geolocation={"latitude": 28.4517, "longitude": 119.9225, "accuracy": 12},
                              permissions=["geolocation"], service_workers="allow")
    yield ctx
    ctx.close()


def shot(page, name: str) -> Path:
    """Save a 360×740 screenshot into test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def jpeg(seed: int, size=(640, 480)) -> bytes:
    """Return a small, distinct JPEG (a gradient with a seeded block), as a phone camera would give."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    img = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    d = ImageDraw.Draw(img)
    for _ in range(12):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        d.rectangle((x, y, x + rng.randrange(20, 200), y + rng.randrange(20, 200)),
                    fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def sign_in(page, username: str, password: str = PASSWORD) -> None:
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")


def wait_worker_ready(page) -> None:
    """Wait until the service worker controls the page (so a reload can open offline)."""
    page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=30000)
