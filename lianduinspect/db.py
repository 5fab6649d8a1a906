"""The database handle, SQLite tuning, and the one transaction() helper every use case opens."""
from __future__ import annotations

import contextvars
from collections.abc import Iterable
from contextlib import contextmanager

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import Engine

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))

# Set by transaction(): SQLite write transactions take the write lock up front (BEGIN IMMEDIATE),
# so two writers queue on busy_timeout instead of failing on a read-to-write lock upgrade.
_writing = contextvars.ContextVar("lianduinspect_writing", default=False)


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, _record):
    """Open SQLite in WAL mode with full fsync, foreign keys and a busy timeout."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    # Let SQLAlchemy's "begin" event below issue BEGIN itself (pysqlite's own is unreliable).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(connection):
    """Begin SQLite transactions explicitly; IMMEDIATE for writes."""
    if connection.dialect.name != "sqlite":
        return
    connection.exec_driver_sql("BEGIN IMMEDIATE" if _writing.get() else "BEGIN")


@contextmanager
def transaction():
    """Run one use case in one transaction: commit on success, roll back on any error.

    Routes, jobs and CLI commands open it; services only flush. Pending audit events are
    chained and written just before the commit so the chain head is locked only briefly.
    """
    from .services import audit  # late: services import models, which import db

    session = db.session()  # the real Session behind the scoped proxy
    if session.in_transaction():
        # A read already began (e.g. loading the current user); start the write afresh so
        # SQLite takes its write lock at BEGIN.
        session.rollback()
    token = _writing.set(True)
    try:
        yield session
        audit.flush_pending(session)
        session.commit()
    except BaseException:
        session.rollback()
        audit.discard_pending(session)
        raise
    finally:
        _writing.reset(token)


PHOTO_LOCKS = 7301  # advisory-lock namespace for "is this photo present?" decisions
_BUCKETS = 64


def lock_photo_buckets(session, sha256s: Iterable[str]) -> None:
    """Take turns with other transactions deciding about the same photos (PostgreSQL).

    A record and its photo may commit at the same moment on two hosts; without this, under READ
    COMMITTED each could miss the other and leave "evidence complete" false for good. Photos are
    hashed into a few buckets, locked in order, so a big batch takes at most 64 locks and no
    two transactions can deadlock. SQLite needs nothing: its writers are already serial.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    buckets = sorted({int(sha[:8], 16) % _BUCKETS if len(sha) >= 8 else 0 for sha in sha256s})
    for bucket in buckets:
        session.execute(text("SELECT pg_advisory_xact_lock(:ns, :bucket)"), {"ns": PHOTO_LOCKS, "bucket": bucket})
