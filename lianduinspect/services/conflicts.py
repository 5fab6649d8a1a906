"""Kept records (冲突记录): bodies the sync could not store as they came, for a supervisor to resolve.

services/inspections.py keeps a body, never overwriting anything, when its UUID already holds other
content, when its visit has a record it does not say it corrects, or when it corrects a revision
someone has corrected already. A supervisor compares it with the record that stands, then resolves
it once with a note (say, after asking the inspector for a correction, which is a new revision).
A resolved one stays, with who resolved it and why; both steps are in the audit chain.
"""
from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import select

from ..errors import ApiError, NotFound, ValidationFailed
from ..models import ChecklistItem, Inspection, InspectionConflict, Round, User, Visit
from . import audit
from .paging import paginate
from .reviews import diff, person, summary

STATES = ("open", "resolved", "all")
RESOLUTION_MAX = 500


def list_conflicts(session, actor, *, state="open", squad_id=None, cursor=None, limit=50):
    """Return a page of kept records, the newest first, with what they collided with."""
    stmt = select(InspectionConflict)
    if state == "open":
        stmt = stmt.where(InspectionConflict.resolved_at.is_(None))
    elif state == "resolved":
        stmt = stmt.where(InspectionConflict.resolved_at.is_not(None))
    if squad_id is not None:
        stmt = stmt.where(InspectionConflict.visit_id.in_(
            select(Visit.id).join(Round, Round.id == Visit.round_id).where(Round.squad_id == squad_id)))
    rows, next_cursor = paginate(session, stmt, InspectionConflict.id, cursor, limit, newest_first=True)
    return [_summary(session, row, _standing(session, row)) for row in rows], next_cursor


def get_conflict(session, actor, conflict_id: int) -> dict:
    """Return one kept record in full: its body, the record that stands, and what differs."""
    conflict = _load(session, conflict_id)
    standing = _standing(session, conflict)
    record = _summary(session, conflict, standing)
    record["body"] = conflict.body
    record["diff"] = None if standing is None else diff(standing, _as_revision(conflict.body))
    changed = sorted({change["item_id"] for change in (record["diff"] or {}).get("items", ())})
    record["item_labels"] = {str(item.id): f"{item.code} {item.text}" for item in session.scalars(
        select(ChecklistItem).where(ChecklistItem.id.in_(changed)))} if changed else {}
    return record


def resolve(session, actor, conflict_id: int, values: dict, *, now: datetime) -> dict:
    """Resolve a kept record with a note, once (409 conflict.resolved the second time)."""
    note = (values.get("resolution") or "").strip()
    if not note:
        raise ValidationFailed({"resolution": ["Say how this was resolved."]})
    if len(note) > RESOLUTION_MAX:
        raise ValidationFailed({"resolution": [f"At most {RESOLUTION_MAX} characters."]})
    conflict = _load(session, conflict_id, lock=True)
    if conflict.resolved_at is not None:
        raise ApiError("conflict.resolved", details={"resolved_at": conflict.resolved_at.isoformat()})
    conflict.resolved_at, conflict.resolved_by_id, conflict.resolution = now, actor.id, note
    session.flush()
    audit.record(session, actor, "inspection.conflict_resolve", "inspection", conflict.uuid, {
        "conflict_id": conflict.id, "reason": conflict.reason, "body_digest": conflict.body_digest,
        "visit_id": conflict.visit_id, "resolution": note}, now=now)
    return get_conflict(session, actor, conflict.id)


# --- helpers ---------------------------------------------------------------------------------------


def _load(session, conflict_id: int, *, lock: bool = False) -> InspectionConflict:
    stmt = select(InspectionConflict).where(InspectionConflict.id == conflict_id)
    if lock:
        stmt = stmt.with_for_update()
    conflict = session.scalars(stmt).one_or_none()
    if conflict is None:
        raise NotFound("conflict")
    return conflict


def _standing(session, conflict: InspectionConflict) -> Inspection | None:
    """Return the record the kept body is compared with: the one under its UUID, else its visit's latest."""
    same = session.scalars(select(Inspection).where(Inspection.uuid == conflict.uuid)).one_or_none()
    if same is not None or conflict.visit_id is None:
        return same
    return session.scalars(select(Inspection).where(Inspection.visit_id == conflict.visit_id)
                           .order_by(Inspection.revision.desc()).limit(1)).one_or_none()


def _summary(session, conflict: InspectionConflict, standing: Inspection | None) -> dict:
    visit = session.get(Visit, conflict.visit_id) if conflict.visit_id is not None else None
    squad = visit.round.squad if visit is not None else None
    submitter = session.get(User, conflict.submitted_by_id)
    resolver = session.get(User, conflict.resolved_by_id) if conflict.resolved_by_id is not None else None
    return {
        "id": conflict.id, "uuid": conflict.uuid, "reason": conflict.reason,
        "state": "open" if conflict.resolved_at is None else "resolved",
        "received_at": conflict.received_at,
        "submitted_by": person(submitter) if submitter else None,
        "visit_id": conflict.visit_id,
        "target": None if visit is None else {"id": visit.target.id, "name": visit.target.name,
                                              "credit_code": visit.target.credit_code},
        "squad": None if squad is None else {"id": squad.id, "name": squad.name},
        "standing": None if standing is None else summary(session, standing),
        "resolved_at": conflict.resolved_at,
        "resolved_by": person(resolver) if resolver else None,
        "resolution": conflict.resolution,
    }


def _as_revision(body: dict) -> SimpleNamespace:
    """Return a kept body in the shape ``reviews.diff`` compares (fields, results, photos)."""
    results = body.get("results") or []
    photos = [SimpleNamespace(item_id=r["item_id"], sha256=p["sha256"]) for r in results for p in r.get("photos") or ()]
    photos += [SimpleNamespace(item_id=None, sha256=p["sha256"]) for p in body.get("scene_photos") or ()]
    return SimpleNamespace(
        outcome=body.get("outcome"), notes=body.get("notes"), late_reason=body.get("late_reason"),
        started_at=_time(body.get("started_at")), finished_at=_time(body.get("finished_at")),
        results=[SimpleNamespace(item_id=r["item_id"], result=r["result"], note=r.get("note")) for r in results],
        photos=photos)


def _time(value):
    return datetime.fromisoformat(value) if isinstance(value, str) else value


__all__ = ["STATES", "get_conflict", "list_conflicts", "resolve"]
