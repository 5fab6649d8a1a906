"""Audit events: services record them in their transaction; transaction() chains them at commit.

Each stored event keeps its canonical JSON content in ``body`` (the bytes its hash covers after
the previous hash and a newline, as ``rules.chain.event_hash`` defines); the other columns are
read out of it by the database (models.AUDIT_COPY_SQL); only the chain's own columns are written.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from sqlalchemy import select, update

from ..db import insert_rows
from ..models import AuditEvent, AuditHead
from ..rules import chain

_PENDING = "lianduinspect_audit_pending"


def event_time(now: datetime) -> str:
    """Format an event's time as stored in its body: ISO 8601, UTC, always with microseconds."""
    # A fixed width lets verification compare the body with the database's copy as text.
    return now.astimezone(timezone.utc).isoformat(timespec="microseconds")


def record(session, actor, action: str, subject_type: str, subject_id, data: dict | None = None,
           *, now: datetime) -> None:
    """Queue an audit event for this transaction (written, chained, just before commit)."""
    session.info.setdefault(_PENDING, []).append({
        "at": event_time(now),
        "actor_id": getattr(actor, "id", actor),
        "action": action,
        "subject_type": subject_type,
        "subject_id": str(subject_id),
        "data": data or {},
    })


_COLUMNS = ("seq", "prev_hash", "hash", "body")  # the query columns are computed from body


def flush_pending(session) -> int:
    """Lock the chain head, append the queued events, and move the head; return how many were written."""
    pending = session.info.pop(_PENDING, [])
    if not pending:
        return 0
    session.flush()
    # FOR UPDATE serialises writers on PostgreSQL; SQLite already holds its write lock (BEGIN IMMEDIATE).
    seq, prev = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)
                                .with_for_update()).one()
    rows = []
    sha256, canonical = hashlib.sha256, chain.canonical
    for content in pending:
        seq += 1
        content = {"seq": seq, **content}
        body = canonical(content)
        digest = sha256(prev.encode("ascii") + b"\n" + body).hexdigest()  # == chain.event_hash
        rows.append((seq, prev, digest, body))
        prev = digest
    # Plain rows, not ORM objects: a sync batch appends an event per record (measured: the ORM's
    # unit of work cost more than the hashing). The table is append-only; nothing reads them back.
    insert_rows(session, AuditEvent.__table__, _COLUMNS, rows)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))
    return len(rows)


def discard_pending(session) -> None:
    """Forget queued events of a rolled-back transaction."""
    session.info.pop(_PENDING, None)


def event_content(event: AuditEvent) -> dict:
    """Return the content an event's hash covers: its stored body."""
    return json.loads(event.body)
