"""Audit events: services record them in their transaction; transaction() chains them at commit."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from ..models import AuditEvent, AuditHead
from ..rules import chain

_PENDING = "lianduinspect_audit_pending"


def record(session, actor, action: str, subject_type: str, subject_id, data: dict | None = None,
           *, now: datetime) -> None:
    """Queue an audit event for this transaction (written, chained, just before commit)."""
    session.info.setdefault(_PENDING, []).append({
        "at": now.astimezone(timezone.utc).isoformat(),
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
        digest = chain.event_hash(prev, content)
        event = AuditEvent(seq=seq, at=datetime.fromisoformat(content["at"]), actor_id=content["actor_id"],
                           action=content["action"], subject_type=content["subject_type"],
                           subject_id=content["subject_id"], data=content["data"],
                           prev_hash=prev, hash=digest)
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
    """Return the content an event's hash covers, rebuilt from its row."""
    return {"seq": event.seq, "at": event.at.isoformat(), "actor_id": event.actor_id,
            "action": event.action, "subject_type": event.subject_type,
            "subject_id": event.subject_id, "data": event.data}
