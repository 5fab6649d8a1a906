"""Audit events: services record them in their transaction; transaction() chains them at commit.

Each stored event keeps its canonical JSON content in ``body`` (the bytes its hash covers after
the previous hash and a newline, as ``rules.chain.event_hash`` defines); the other columns are
copies for querying. ``services.audit_chain`` verifies both.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from sqlalchemy import select

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


def flush_pending(session) -> list[AuditEvent]:
    """Lock the chain head, append the queued events, and move the head."""
    pending = session.info.pop(_PENDING, [])
    if not pending:
        return []
    session.flush()
    # FOR UPDATE serialises writers on PostgreSQL; SQLite already holds its write lock (BEGIN IMMEDIATE).
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one()
    written = []
    seq, prev = head.seq, head.hash
    for content in pending:
        seq += 1
        content = {"seq": seq, **content}
        body = chain.canonical(content)
        digest = hashlib.sha256(prev.encode("ascii") + b"\n" + body).hexdigest()  # == chain.event_hash
        event = AuditEvent(seq=seq, at=datetime.fromisoformat(content["at"]), actor_id=content["actor_id"],
                           action=content["action"], subject_type=content["subject_type"],
                           subject_id=content["subject_id"], data=content["data"],
                           prev_hash=prev, hash=digest, body=body)
        session.add(event)
        written.append(event)
        prev = digest
    head.seq, head.hash = seq, prev
    session.flush()
    return written


def discard_pending(session) -> None:
    """Forget queued events of a rolled-back transaction."""
    session.info.pop(_PENDING, None)


def event_content(event: AuditEvent) -> dict:
    """Return the content an event's hash covers: its stored body."""
    return json.loads(event.body)
