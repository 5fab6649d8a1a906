"""The stored audit chain: bodies, verification from the database, signed checkpoints, export."""
from __future__ import annotations

import hashlib
import json
import os
import stat
from datetime import timedelta

from sqlalchemy import select

from lianduinspect.db import transaction
from lianduinspect.models import AuditCheckpoint, AuditEvent
from lianduinspect.rules import chain
from lianduinspect.services import audit, audit_chain


def record_events(count: int, now, *, per_transaction: int = 5) -> None:
    """Write ``count`` audit events through transaction(), as services do."""
    for start in range(0, count, per_transaction):
        with transaction() as s:
            for n in range(start, min(count, start + per_transaction)):
                audit.record(s, n % 7 or None, "inspection.submit", "inspection", f"uuid-{n}",
                             {"n": n, "note": "后厨未设置防鼠设施", "gps": [28.45, 119.92], "ok": n % 2 == 0},
                             now=now + timedelta(seconds=n, microseconds=n % 3))


def test_each_body_is_the_canonical_content_its_hash_covers(session, now):
    record_events(6, now)
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    prev = chain.GENESIS_HASH
    for event in events:
        content = json.loads(event.body)
        assert event.body == chain.canonical(content)
        assert event.hash == chain.event_hash(prev, content) == hashlib.sha256(
            prev.encode() + b"\n" + event.body).hexdigest()
        assert content == {"seq": event.seq, "at": event.at.isoformat(timespec="microseconds"),
                           "actor_id": event.actor_id, "action": event.action, "subject_type": event.subject_type,
                           "subject_id": event.subject_id, "data": event.data}
        assert audit.event_content(event) == content
        prev = event.hash


def test_stored_rows_verify_as_the_pure_rules_do(session, now):
    record_events(12, now)
    rows = list(audit_chain.stream_rows(session, batch=5, copies=True))
    assert [differing for *_row, differing in rows] == [None] * 12  # the database reads each column out of the body
    assert [type(body) for _seq, _prev, _hash, body, _differing in rows] == [bytes] * 12
    walked = audit_chain.walk(rows)
    paged = audit_chain.walk_stored(session, upto_seq=12, batch=5, checkpoints_at=[5, 12])
    pure = chain.verify((json.loads(body), prev, digest) for _seq, prev, digest, body, _differing in rows)
    assert walked.ok and paged.ok and pure.ok
    assert (walked.count, walked.head_hash) == (paged.count, paged.head_hash) == (pure.count, pure.head_hash) \
        == (12, rows[-1][2])
    assert paged.hashes_at == {5: rows[4][2], 12: rows[11][2]}


def test_query_columns_are_computed_by_the_database_from_the_body(session):
    assert audit_chain.uncomputed_copies(session) == []


def test_intact_chain_verifies_with_progress(session, now):
    record_events(11, now)
    seen = []
    report = audit_chain.verify_chain(session, progress=seen.append, batch=4)
    assert report.ok and report.count == report.last_seq == 11
    assert seen == [4, 4, 3]
    assert report.summary().startswith("audit chain OK: 11 events")


def test_empty_chain_verifies(session):
    report = audit_chain.verify_chain(session)
    assert report.ok and report.count == 0


def test_checkpoint_signs_the_length_and_head_hash(app, session, now):
    record_events(7, now)
    key = audit_chain.signing_key(app.config["SIGNING_KEY_PATH"])
    with transaction() as s:
        row = audit_chain.make_checkpoint(s, now=now, key=key)
        row_id = row.id
    row = session.get(AuditCheckpoint, row_id)
    head = session.scalars(select(AuditEvent).where(AuditEvent.seq == 7)).one()
    assert (row.length, row.head_hash) == (7, head.hash)
    assert row.signed["payload"] == {"length": 7, "head_hash": head.hash, "at": now.isoformat()}
    assert chain.verify_checkpoint_signature(row.signed, key.public_key())
    # The checkpoint itself is recorded, after the events it covers.
    event = session.scalars(select(AuditEvent).where(AuditEvent.seq == 8)).one()
    assert event.action == "audit.checkpoint" and event.data["length"] == 7


def test_checkpoint_with_nothing_new_signs_nothing_new(app, session, now):
    record_events(3, now)
    key = audit_chain.signing_key(app.config["SIGNING_KEY_PATH"])
    with transaction() as s:
        audit_chain.make_checkpoint(s, now=now, key=key)
    with transaction() as s:
        second = audit_chain.make_checkpoint(s, now=now + timedelta(days=1), key=key)
        assert second.length == 3  # the first checkpoint's own event alone is no news
    record_events(1, now + timedelta(days=2))
    with transaction() as s:
        audit_chain.make_checkpoint(s, now=now + timedelta(days=2), key=key)
    assert [c.length for c in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id))] == [3, 5]


def test_verify_checks_the_latest_checkpoint(app, session, now):
    record_events(5, now)
    key = audit_chain.signing_key(app.config["SIGNING_KEY_PATH"])
    with transaction() as s:
        audit_chain.make_checkpoint(s, now=now, key=key)
    report = audit_chain.verify_chain(session, public_key=key.public_key())
    assert report.ok and [(c.length, c.ok) for c in report.checkpoints] == [(5, True)]


def test_signing_key_is_generated_once_readable_by_the_owner_only(tmp_path):
    path = str(tmp_path / "keys" / "audit_ed25519.pem")
    first = audit_chain.signing_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    second = audit_chain.signing_key(path)
    assert chain.key_fingerprint(first.public_key()) == chain.key_fingerprint(second.public_key())
    assert [p for p in os.listdir(tmp_path / "keys")] == ["audit_ed25519.pem"]


def _exported_after_one_checkpoint(app, now):
    """Record four events, sign a checkpoint, export it; return (key, exported document)."""
    record_events(4, now)
    key = audit_chain.signing_key(app.config["SIGNING_KEY_PATH"])
    with transaction() as s:
        audit_chain.make_checkpoint(s, now=now, key=key)
    with transaction() as s:
        return key, audit_chain.export_checkpoints(s, None, now=now, key=key)


def test_export_lists_checkpoints_with_the_public_key_and_is_audited(app, session, now):
    _key, doc = _exported_after_one_checkpoint(app, now)
    assert doc["format"] == audit_chain.EXPORT_FORMAT
    assert [c["payload"]["length"] for c in doc["checkpoints"]] == [4]
    assert chain.key_fingerprint(chain.load_public_key(doc["public_key"])) == doc["key_fingerprint"]
    assert session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq.desc())).first() == "audit.export"


def test_checkpoint_in_a_file_signed_by_another_key_is_refused(app, session, now):
    key, doc = _exported_after_one_checkpoint(app, now)
    forger = chain.load_private_key(chain.generate_key())
    doc["checkpoints"].append(chain.sign_checkpoint(chain.Checkpoint(5, "f" * 64, now.isoformat()), forger))
    report = audit_chain.verify_chain(session, public_key=key.public_key(), exported=doc)
    assert not report.ok and report.reason == "checkpoint_signature"
