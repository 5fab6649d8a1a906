"""The database handle, SQLite tuning, and the one transaction() helper every use case opens."""
from __future__ import annotations

import contextvars
import functools
import sqlite3
import time
from collections.abc import Iterable, Sequence
from contextlib import contextmanager

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, Table, event, text
from sqlalchemy.engine import Dialect, Engine

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))

# Set by transaction(): SQLite write transactions take the write lock up front (BEGIN IMMEDIATE),
# so two writers queue for it instead of failing on a read-to-write lock upgrade.
_writing = contextvars.ContextVar("lianduinspect_writing", default=False)

SQLITE_BUSY_MS = 15000  # how long a statement, or a writer queueing for the lock, waits on another writer
# A writer queueing for the lock tries again this often (seconds): about the time a small write
# transaction holds it, so the lock passes on within a fraction of one transaction.
_LOCK_POLL = (0.0005, 0.001, 0.002)
# Each connection's page cache, in KiB (SQLite's default is 2 MiB). The near-duplicate look-up reads
# a few hundred entries scattered over four substring indexes, about 2.5 MB each per 100,000
# photos; with the default cache most of them were read again through the OS on every upload
# (bench/near_duplicates.py: 2.5 times the time). It grows only as pages are read.
SQLITE_CACHE_KIB = 32768


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, _record):
    """Open SQLite in WAL mode with full fsync, foreign keys, a busy timeout and a larger page cache."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    # Let SQLAlchemy's "begin" event below issue BEGIN itself (pysqlite's own is unreliable).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(connection):
    """Begin SQLite transactions explicitly; IMMEDIATE for writes."""
    if connection.dialect.name != "sqlite":
        return
    if _writing.get():
        _begin_immediate(connection.connection.driver_connection)
    else:
        connection.exec_driver_sql("BEGIN")


def _begin_immediate(raw: sqlite3.Connection) -> None:
    """Take SQLite's write lock, trying again every millisecond or two until SQLITE_BUSY_MS has passed.

    Not through busy_timeout: SQLite's busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50,
    100 ms between tries, so a writer that has queued behind two sync batches sleeps on for tens of
    milliseconds after the lock is free, and with several workers the lock sat idle for much of the
    time (bench/sync_ingest.py: four workers were slower than two). A failed try costs a few
    microseconds; the other statements keep busy_timeout.
    """
    raw.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + SQLITE_BUSY_MS / 1000
        tries = 0
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as err:
                busy = getattr(err, "sqlite_errorcode", sqlite3.SQLITE_BUSY) & 0xFF == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() >= deadline:
                    raise
            time.sleep(_LOCK_POLL[min(tries, len(_LOCK_POLL) - 1)])
            tries += 1
    finally:
        raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")


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


@functools.lru_cache(maxsize=256)  # a few tables per engine; tests build many engines
def _insert_plan(table: Table, columns: tuple[str, ...], dialect: Dialect):
    """Return the driver-level statement for inserting these columns and their types' bind processors."""
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    # The dialect's own processors (SQLite's datetime text, canonical JSON), as SQLAlchemy binds them.
    processors = [(i, table.c[name].type._cached_bind_processor(dialect)) for i, name in enumerate(columns)]
    processors = [(i, p) for i, p in processors if p is not None]
    if dialect.name == "postgresql":
        return f"COPY {quote(table.name)} ({names}) FROM STDIN", processors
    marks = ", ".join("?" if dialect.paramstyle == "qmark" else "%s" for _ in columns)
    return f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})", processors


def insert_rows(session, table: Table, columns: Sequence[str], rows: list[tuple]) -> None:
    """Insert rows (tuples in `columns` order, every value given) in the session's transaction, fast.

    SQLAlchemy's executemany spends as long preparing each row's parameters as SQLite takes to
    insert it, and on PostgreSQL it runs one INSERT per row on the server; a sync batch writes a
    thousand item results. So: the driver's executemany on SQLite, COPY on PostgreSQL (measured:
    a fifth of an executemany's time, and a third of one INSERT over unnest()ed arrays, whose
    parameters psycopg builds in Python), with the column types' bind processors applied as
    SQLAlchemy would (UTC times, canonical JSON, JSON null). Column defaults are not applied.
    Constraint violations raise SQLAlchemy's IntegrityError, as any statement would.
    """
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    sql, processors = _insert_plan(table, tuple(columns), dialect)
    if processors:
        values = [list(column) for column in zip(*rows)]
        for i, process in processors:
            values[i] = [process(v) for v in values[i]]  # None too: a JSON column stores None as 'null'
        rows = list(zip(*values))
    if dialect.name != "postgresql":
        connection.exec_driver_sql(sql, rows)
        return
    import psycopg
    from sqlalchemy.exc import DBAPIError

    cursor = connection.connection.driver_connection.cursor()
    try:
        with cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as err:
        raise DBAPIError.instance(sql, None, err, psycopg.Error, dialect=dialect) from err
    finally:
        cursor.close()


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
    if buckets:
        # One round trip for all of them; unnest yields the buckets in array order, ascending.
        session.execute(text("SELECT pg_advisory_xact_lock(:ns, bucket) FROM unnest(CAST(:buckets AS integer[])) AS bucket"),
                        {"ns": PHOTO_LOCKS, "buckets": buckets})
