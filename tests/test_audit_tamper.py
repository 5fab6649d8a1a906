"""Tampering with the stored audit chain is refused by the database, and found when the guard is lifted.

The append-only guard is lifted only inside `unguarded()` (SQLite: the triggers are dropped and
re-created; PostgreSQL: the user triggers are disabled and re-enabled), to play an attacker who
can write to the table directly.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from lianduinspect.db import db
from lianduinspect.services import audit_chain

from .services.test_audit_chain import record_events

_MIGRATION = Path(__file__).resolve().parents[1] / "migrations" / "versions" / "0001_domain_model.py"


def _guard_statements(dialect: str) -> list[str]:
    spec = importlib.util.spec_from_file_location("migration_0001", _MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.APPEND_ONLY[dialect]


@contextmanager
def unguarded():
    """Yield a connection that may UPDATE and DELETE audit events; restore the guard afterwards."""
    dialect = db.engine.dialect.name
    with db.engine.begin() as conn:
        if dialect == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER audit_events_no_update")
            conn.exec_driver_sql("DROP TRIGGER audit_events_no_delete")
        else:
            conn.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
        try:
            yield conn
        finally:
            if dialect == "sqlite":
                for statement in _guard_statements("sqlite"):
                    conn.exec_driver_sql(statement)
            else:
                conn.exec_driver_sql("ALTER TABLE audit_events ENABLE TRIGGER USER")


def _rows(conn) -> list[tuple[int, bytes, str]]:
    return [(r[0], bytes(r[1]), r[2]) for r in conn.execute(sa.text("SELECT seq, body, hash FROM audit_events ORDER BY seq"))]


def _rewrite_from(conn, seq: int, change=None, *, link=None) -> None:
    """Change event ``seq``'s content (or store ``link(right previous hash)`` as its previous hash) and
    re-chain every later event consistently, head included."""
    rows = _rows(conn)
    prev = rows[seq - 2][2] if seq > 1 else "0" * 64
    if link is not None:
        prev = link(prev)
    for row_seq, body, _ in rows[seq - 1:]:
        content = json.loads(body)
        if row_seq == seq and change is not None:
            change(content)
        new_body = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        digest = hashlib.sha256(prev.encode() + b"\n" + new_body).hexdigest()
        # The query columns follow the body: the database computes them from it.
        conn.execute(sa.text("UPDATE audit_events SET body = :body, prev_hash = :prev, hash = :hash WHERE seq = :seq"),
                     {"body": new_body, "prev": prev, "hash": digest, "seq": row_seq})
        prev = digest
    conn.execute(sa.text("UPDATE audit_head SET hash = :hash WHERE id = 1"), {"hash": prev})


def _verify(runner, *args):
    return runner.invoke(args=["audit", "verify", *args])


def _checkpoint(runner):
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def events(app, session, now):
    record_events(30, now)


@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET action = 'forged' WHERE seq = 3",
    "UPDATE audit_events SET body = body WHERE seq = 3",
    "DELETE FROM audit_events WHERE seq = 30",
    "DELETE FROM audit_events",
])
def test_update_and_delete_fail_with_the_guard_in_place(app, events, statement):
    with pytest.raises(sa.exc.DatabaseError):
        with db.engine.begin() as conn:
            conn.exec_driver_sql(statement)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM audit_events").scalar_one() == 30


def test_truncate_fails_with_the_guard_in_place_on_postgresql(app, events):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    with pytest.raises(sa.exc.DatabaseError):
        with db.engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE audit_events")


def test_intact_chain_verifies_with_exit_code_0_and_a_summary(runner, events):
    _checkpoint(runner)
    result = _verify(runner)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("audit chain OK: 31 events")
    assert "matches" in result.output


def test_edited_body_is_found_at_its_exact_seq(runner, events):
    with unguarded() as conn:
        body = _rows(conn)[16][1]
        conn.execute(sa.text("UPDATE audit_events SET body = :b WHERE seq = 17"),
                     {"b": body.replace(b'"n":16', b'"n":61')})
    result = _verify(runner)
    assert result.exit_code == 1
    assert "audit chain BROKEN at seq 17: hash_mismatch" in result.output


_COPIES = ("at", "actor_id", "action", "subject_type", "subject_id", "data")


def _detach_copies(conn) -> None:
    """Make the query columns plain columns holding what they held (an attacker with DDL rights)."""
    if conn.dialect.name == "postgresql":
        for column in _COPIES:
            conn.exec_driver_sql(f"ALTER TABLE audit_events ALTER COLUMN {column} DROP EXPRESSION")
        return
    conn.exec_driver_sql("CREATE TABLE audit_events_plain (seq INTEGER NOT NULL PRIMARY KEY, at DATETIME, "
                         "actor_id INTEGER, action VARCHAR(48), subject_type VARCHAR(32), subject_id VARCHAR(64), "
                         "data JSON, prev_hash VARCHAR(64), hash VARCHAR(64), body BLOB)")
    conn.exec_driver_sql("INSERT INTO audit_events_plain SELECT seq, at, actor_id, action, subject_type, subject_id, "
                         "data, prev_hash, hash, body FROM audit_events")
    conn.exec_driver_sql("DROP TABLE audit_events")
    conn.exec_driver_sql("ALTER TABLE audit_events_plain RENAME TO audit_events")


_EDITS = [("action", "'review.approve'"), ("subject_id", "'uuid-99'"), ("actor_id", "42"), ("data", "'{\"n\":99}'"),
          ("subject_type", "'review'")]


@pytest.mark.parametrize("column,value", _EDITS)
def test_query_columns_cannot_be_edited_even_without_the_guard(runner, events, column, value):
    with pytest.raises(sa.exc.DatabaseError):
        with unguarded() as conn:
            conn.exec_driver_sql(f"UPDATE audit_events SET {column} = {value} WHERE seq = 9")
    assert _verify(runner).exit_code == 0


@contextmanager
def detached_copies():
    """Yield (connection, session) in one transaction where the guard is lifted and the query
    columns are plain ones; roll all of it back (the schema change too) afterwards."""
    with db.engine.connect() as conn:
        outer = conn.begin()
        try:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("DROP TRIGGER audit_events_no_update")
            else:
                conn.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
            _detach_copies(conn)
            with Session(bind=conn) as session:
                yield conn, session
        finally:
            outer.rollback()


def test_query_columns_detached_from_the_body_but_unchanged_still_verify(app, events):
    with detached_copies() as (_conn, session):
        report = audit_chain.verify_chain(session)
    assert report.ok, report.summary()
    assert any("no longer computed from the body" in note for note in report.notes)
    assert audit_chain.uncomputed_copies(db.session) == []  # rolled back


@pytest.mark.parametrize("column,value", _EDITS)
def test_detached_and_edited_query_column_is_found_at_its_exact_seq(app, events, column, value):
    with detached_copies() as (conn, session):
        conn.exec_driver_sql(f"UPDATE audit_events SET {column} = {value} WHERE seq = 9")
        report = audit_chain.verify_chain(session)
    assert f"audit chain BROKEN at seq 9: copy_mismatch — event 9's {column} column" in report.summary()


def test_detached_and_edited_time_is_found_at_its_exact_seq(app, events):
    with detached_copies() as (conn, session):
        conn.execute(sa.text("UPDATE audit_events SET at = :at WHERE seq = 4"),
                     {"at": datetime(2020, 1, 1, tzinfo=timezone.utc)})
        report = audit_chain.verify_chain(session)
    assert "BROKEN at seq 4: copy_mismatch — event 4's at column" in report.summary()


def test_body_with_bytes_after_a_nul_is_refused_or_found_at_its_exact_seq(runner, events):
    with unguarded() as conn:
        body = _rows(conn)[6][1]
    tampered = body + b"\x00 "
    if db.engine.dialect.name == "postgresql":  # its computed columns cannot read such a body
        with pytest.raises(sa.exc.DataError):
            with db.engine.begin() as conn:
                conn.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
                conn.execute(sa.text("UPDATE audit_events SET body = :b WHERE seq = 7"), {"b": tampered})
        assert _verify(runner).exit_code == 0
        return
    with unguarded() as conn:  # SQLite's JSON functions stop reading at the NUL: the page check must not
        conn.execute(sa.text("UPDATE audit_events SET body = :b WHERE seq = 7"), {"b": tampered})
    result = _verify(runner)
    assert result.exit_code == 1
    assert "audit chain BROKEN at seq 7: hash_mismatch" in result.output


def test_edited_hash_and_link_are_found_at_their_exact_seq(runner, events):
    with unguarded() as conn:
        conn.exec_driver_sql("UPDATE audit_events SET prev_hash = hash WHERE seq = 21")
    result = _verify(runner)
    assert result.exit_code == 1
    assert "audit chain BROKEN at seq 21: prev_mismatch" in result.output


@pytest.mark.parametrize("link", ["shortened", "lengthened"])
def test_previous_hash_not_exactly_the_last_hash_is_found_even_when_rehashed(runner, events, link):
    # The attacker stores a previous hash that begins like the right one, hashes the event over it
    # and re-chains everything after: each hash then matches its bytes, but the link does not.
    if link == "lengthened" and db.engine.dialect.name == "postgresql":
        pytest.skip("PostgreSQL's varchar(64) refuses a 65-character previous hash")
    with unguarded() as conn:
        _rewrite_from(conn, 21, link=(lambda right: right[:63]) if link == "shortened" else (lambda right: right + "0"))
    result = _verify(runner)
    assert result.exit_code == 1
    assert "audit chain BROKEN at seq 21: prev_mismatch" in result.output


def test_deleted_event_in_the_middle_is_named(runner, events):
    with unguarded() as conn:
        conn.exec_driver_sql("DELETE FROM audit_events WHERE seq = 12")
    result = _verify(runner)
    assert result.exit_code == 1
    assert "BROKEN at seq 12: seq_gap" in result.output


def test_consistently_rewritten_chain_is_found_against_the_last_checkpoint(runner, events):
    _checkpoint(runner)
    with unguarded() as conn:
        _rewrite_from(conn, 5, lambda c: c["data"].update(note="已整改"))
    result = _verify(runner)
    assert result.exit_code == 1
    assert "checkpoint_mismatch" in result.output and "rewritten" in result.output


def test_truncated_tail_is_found_against_the_last_checkpoint(runner, events):
    _checkpoint(runner)
    with unguarded() as conn:
        rows = _rows(conn)
        conn.exec_driver_sql("DELETE FROM audit_events WHERE seq > 25")
        conn.execute(sa.text("UPDATE audit_head SET seq = 25, hash = :h WHERE id = 1"), {"h": rows[24][2]})
    result = _verify(runner)
    assert result.exit_code == 1
    assert "audit chain BROKEN at seq 26: checkpoint_truncated" in result.output


def test_truncated_tail_is_found_against_the_head_row_without_a_checkpoint(runner, events):
    with unguarded() as conn:
        conn.exec_driver_sql("DELETE FROM audit_events WHERE seq > 27")
    result = _verify(runner)
    assert result.exit_code == 1
    assert "BROKEN at seq 28: seq_gap — events 28..30 missing" in result.output


def test_rewrite_of_the_whole_chain_checkpoints_and_key_is_found_against_an_exported_file(
        app, runner, events, tmp_path):
    _checkpoint(runner)
    exported = tmp_path / "checkpoints.json"
    assert runner.invoke(args=["audit", "export-checkpoints", str(exported)]).exit_code == 0
    # The attacker rewrites every event from the first, replaces the key and re-signs a checkpoint.
    with unguarded() as conn:
        _rewrite_from(conn, 1, lambda c: c["data"].update(note="无问题"))
        conn.exec_driver_sql("DELETE FROM audit_checkpoints")
    os.remove(app.config["SIGNING_KEY_PATH"])
    _checkpoint(runner)
    assert _verify(runner).exit_code == 0  # everything on the server agrees with itself
    result = _verify(runner, "--checkpoint", str(exported))
    assert result.exit_code == 1
    assert "checkpoint_mismatch" in result.output
    assert "signed by another key" in result.output


def test_checkpoint_refuses_to_sign_a_broken_chain(runner, events):
    with unguarded() as conn:
        conn.exec_driver_sql("UPDATE audit_events SET prev_hash = hash WHERE seq = 2")
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 1
    assert "audit.broken" in result.output and "'seq': 2" in result.output


def test_guard_is_back_after_the_tamper_helper(app, events):
    with unguarded():
        pass
    with pytest.raises(sa.exc.DatabaseError):
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM audit_events WHERE seq = 1")


def test_verify_reads_an_unreadable_checkpoint_file_as_an_error(runner, events, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    result = _verify(runner, "--checkpoint", str(bad))
    assert result.exit_code != 0 and "not a" in result.output


def test_gap_wider_than_a_page_is_named_from_its_first_missing_event(app, events):
    with unguarded() as conn:
        conn.exec_driver_sql("DELETE FROM audit_events WHERE seq BETWEEN 6 AND 19")
    report = audit_chain.verify_chain(db.session, batch=4)
    assert (report.ok, report.broken_seq, report.reason) == (False, 6, "seq_gap")
    assert report.detail == "event 6..19 missing: next stored is 20"


def test_head_row_claiming_far_more_events_is_answered_without_reading_the_void(app, events):
    with unguarded() as conn:
        conn.exec_driver_sql("UPDATE audit_head SET seq = 1000000000000 WHERE id = 1")
    report = audit_chain.verify_chain(db.session, batch=4)
    assert (report.ok, report.count, report.broken_seq, report.reason) == (False, 30, 31, "seq_gap")
