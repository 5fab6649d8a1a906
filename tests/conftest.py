"""Fixtures: a fresh migrated database per test (SQLite, and PostgreSQL when configured), the app,
clients signed in as personas, and factories for the domain."""
from __future__ import annotations

import os
import shutil
import uuid
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from lianduinspect import create_app
from lianduinspect.config import test_database_url
from lianduinspect.db import db

from .factories import PASSWORD, World, make_world

PG_URL = test_database_url()
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def _migrate(url: str, instance: str) -> None:
    """Build the schema the way production does: `flask db upgrade`, not create_all()."""
    from flask_migrate import upgrade

    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "t", "STORAGE_URL": instance})
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """Migrate one SQLite file per run; each test gets a copy."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.sqlite3"
    _migrate(f"sqlite:///{path}", str(folder))
    return path


@pytest.fixture(scope="session")
def pg_schema(tmp_path_factory):
    """Create a schema of this run's own in the PostgreSQL test database, and drop it afterwards."""
    if not PG_URL:
        yield None
        return
    name = f"li_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options=-csearch_path%3D{name}"
    try:
        _migrate(url, str(tmp_path_factory.mktemp("pg")))
        yield url, name
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        admin.dispose()


def _reset_postgres(url: str) -> None:
    """Empty every table between tests (the audit guard is lifted for the cleanup only)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        tables = [r[0] for r in conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename != 'alembic_version'")]
        conn.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
        conn.exec_driver_sql("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
        conn.exec_driver_sql("ALTER TABLE audit_events ENABLE TRIGGER USER")
        conn.exec_driver_sql("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '" + "0" * 64 + "')")
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """Return the URL of an empty, migrated database for this test."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.sqlite3"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url, _name = request.getfixturevalue("pg_schema")
    _reset_postgres(url)
    return url


@pytest.fixture
def app(database_url, tmp_path):
    """Build the app on this test's database."""
    app = create_app({
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "STORAGE_URL": str(tmp_path / "evidence"),
        "SIGNING_KEY_PATH": str(tmp_path / "audit_ed25519.pem"),
    })
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def session(app):
    """Return the app's database session inside an app context."""
    with app.app_context():
        yield db.session


@pytest.fixture
def now():
    """A fixed clock for service tests."""
    return datetime(2023, 4, 10, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def world(app, session) -> World:
    """A small registry: departments, areas, two squads, one user of every role, scenes, targets."""
    w = make_world(session)
    session.commit()
    return w


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class ApiClient:
    """A test client that sends the CSRF token with every write, as the PWA does."""

    def __init__(self, app):
        self.app = app
        self.http = app.test_client()
        self.csrf = None
        self.user = None

    def login(self, username: str, password: str = PASSWORD):
        response = self.http.post("/api/v1/auth/login", json={"username": username, "password": password})
        if response.status_code == 200:
            self.csrf = response.json["csrf_token"]
            self.user = response.json["user"]
        return response

    def open(self, method: str, path: str, **kwargs):
        headers = dict(kwargs.pop("headers", {}) or {})
        if self.csrf and method.upper() not in ("GET", "HEAD", "OPTIONS"):
            headers.setdefault("X-CSRF-Token", self.csrf)
        return self.http.open(path, method=method.upper(), headers=headers, **kwargs)

    def get(self, path, **kw):
        return self.open("GET", path, **kw)

    def head(self, path, **kw):
        return self.open("HEAD", path, **kw)

    def post(self, path, **kw):
        return self.open("POST", path, **kw)

    def put(self, path, **kw):
        return self.open("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.open("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.open("DELETE", path, **kw)


@pytest.fixture
def client(app):
    """An anonymous client."""
    return ApiClient(app)


def _persona(app, username: str) -> ApiClient:
    c = ApiClient(app)
    response = c.login(username)
    assert response.status_code == 200, response.json
    return c


@pytest.fixture
def as_admin(app, world):
    return _persona(app, world.admin.username)


@pytest.fixture
def as_inspector(app, world):
    return _persona(app, world.inspector.username)


@pytest.fixture
def as_leader(app, world):
    return _persona(app, world.leader.username)


@pytest.fixture
def as_supervisor(app, world):
    return _persona(app, world.supervisor.username)


@pytest.fixture
def as_stranger(app, world):
    """An inspector of the other squad."""
    return _persona(app, world.stranger.username)


@pytest.fixture
def personas(app, world):
    """Clients signed in as every role, keyed by persona name."""
    return {name: _persona(app, getattr(world, name).username)
            for name in ("admin", "inspector", "leader", "supervisor", "stranger")}
