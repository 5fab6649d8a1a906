"""Supervision (审核): the review queue, the full record with its flags, decisions, reports.

A decision is taken on one submitted revision and sets its status; a decided revision is locked
(a correction is a new revision, which the inspection service refuses after approval). Only
approved records count in reports.
"""
from __future__ import annotations

import base64
import json
from collections import Counter, defaultdict
from datetime import datetime, timezone

from sqlalchemy import Text, and_, cast, or_, select
from sqlalchemy.orm import selectinload

from ..errors import ApiError, NotFound, ValidationFailed
from ..models import (ChecklistItem, Department, Evidence, Inspection, InspectionInspector, ItemResult, Rectification,
                      Review, Round, SceneVersion, Squad, User, Visit, VisitRound)
from ..permissions import is_all_seeing
from ..rules import periods
from . import audit, authenticity
from .rectifications import OVERDUE_AFTER

VERBS = {"approved": "review.approve", "rejected": "review.reject", "needs_evidence": "review.request_evidence"}
BULK_LIMIT = 200

_LOAD = (selectinload(Inspection.results), selectinload(Inspection.photos), selectinload(Inspection.inspectors))


# --- the queue -----------------------------------------------------------------------------------


def _flagged():
    """SQL: the record has at least one flag (an empty or uncomputed list is not flagged)."""
    # The stored JSON text of an empty list is "[]" on both databases; PostgreSQL's json keeps it.
    return and_(~authenticity.flags_missing(), cast(Inspection.flags, Text) != "[]")


def _encode_cursor(inspection: Inspection) -> str:
    raw = json.dumps([0 if inspection.evidence_complete else 1, inspection.received_at.isoformat(), inspection.id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        rank, at, last_id = json.loads(raw)
        at = datetime.fromisoformat(at)
        if rank not in (0, 1) or type(last_id) is not int or at.tzinfo is None:
            raise ValueError(raw)
        return rank, at, last_id
    except (ValueError, TypeError, UnicodeDecodeError):
        raise ValidationFailed({"cursor": ["Not a cursor from this API."]}) from None


def _visit_rounds():
    """SQL: visits with the rounds they serve (joint visits serve several); add the condition."""
    return select(VisitRound.visit_id).join(Round, Round.id == VisitRound.round_id)


def queue(session, actor, *, squad_id=None, scene_id=None, period=None, flagged=None, status="submitted",
          cursor=None, limit=50):
    """Return a page of revisions to review: evidence-complete first, then the oldest received."""
    stmt = (select(Inspection).join(Visit, Visit.id == Inspection.visit_id).join(Round, Round.id == Visit.round_id)
            .options(*_LOAD))
    if status:
        stmt = stmt.where(Inspection.status == status)
    if squad_id is not None:
        stmt = stmt.where(Round.squad_id == squad_id)
    if scene_id is not None:
        stmt = stmt.where(or_(Round.scene_id == scene_id,
                              Visit.id.in_(_visit_rounds().where(Round.scene_id == scene_id))))
    if period:
        stmt = stmt.where(or_(Round.period_key == period,
                              Visit.id.in_(_visit_rounds().where(Round.period_key == period))))
    if flagged is True:
        stmt = stmt.where(_flagged())
    elif flagged is False:
        stmt = stmt.where(~_flagged())
    if cursor:
        rank, at, last_id = _decode_cursor(cursor)
        later = or_(Inspection.received_at > at, and_(Inspection.received_at == at, Inspection.id > last_id))
        if rank == 0:
            stmt = stmt.where(or_(Inspection.evidence_complete.is_(False),
                                  and_(Inspection.evidence_complete.is_(True), later)))
        else:
            stmt = stmt.where(Inspection.evidence_complete.is_(False), later)
    stmt = stmt.order_by(Inspection.evidence_complete.desc(), Inspection.received_at, Inspection.id).limit(limit + 1)
    rows = list(session.scalars(stmt).unique())
    more = len(rows) > limit
    rows = rows[:limit]
    return [summary(session, row) for row in rows], (_encode_cursor(rows[-1]) if more and rows else None)


def _rounds_of(session, visit: Visit) -> list[Round]:
    rounds = {r.id: r for r in visit.rounds}
    rounds.setdefault(visit.round.id, visit.round)
    return [rounds[k] for k in sorted(rounds)]


def person(user: User) -> dict:
    """Return a person as records show them: name, certificate and department."""
    return {"id": user.id, "full_name": user.full_name, "certificate_no": user.certificate_no,
            "department": user.department.short if user.department else None}


def summary(session, inspection: Inspection) -> dict:
    """Return a revision as the queue lists it: target, squad, scenes, inspectors, flags, times."""
    visit = inspection.visit
    rounds = _rounds_of(session, visit)
    squad = visit.round.squad
    return {
        "id": inspection.id, "uuid": inspection.uuid, "visit_id": visit.id, "revision": inspection.revision,
        "status": inspection.status, "outcome": inspection.outcome,
        "target": {"id": visit.target.id, "name": visit.target.name, "credit_code": visit.target.credit_code},
        "squad": {"id": squad.id, "name": squad.name},
        "scenes": [{"id": r.scene_id, "name": r.scene_version.name, "round_id": r.id, "period_key": r.period_key}
                   for r in rounds],
        "inspectors": [person(u) for u in inspection.inspectors],
        "flags_count": None if inspection.flags is None else len(inspection.flags),
        "evidence_complete": inspection.evidence_complete,
        "started_at": inspection.started_at, "finished_at": inspection.finished_at,
        "received_at": inspection.received_at,
    }


# --- the full record -----------------------------------------------------------------------------


def _lock_visits(session, inspection_ids) -> None:
    """Lock the visits of these records first, in id order, as the inspection service does.

    A correction arriving while a reviewer decides must not turn an approved revision into a
    superseded one: both take the visit's lock, so one waits for the other and then sees its result.
    """
    visit_ids = sorted(set(session.scalars(select(Inspection.visit_id).where(Inspection.id.in_(list(inspection_ids))))))
    if visit_ids:
        session.execute(select(Visit.id).where(Visit.id.in_(visit_ids)).order_by(Visit.id).with_for_update())


def _load(session, inspection_id: int, *, lock: bool = False) -> Inspection:
    stmt = select(Inspection).options(*_LOAD).where(Inspection.id == inspection_id)
    if lock:
        _lock_visits(session, [inspection_id])
        stmt = stmt.with_for_update(of=Inspection)
    inspection = session.scalars(stmt).unique().one_or_none()
    if inspection is None:
        raise NotFound("inspection")
    return inspection


def _previous(session, inspection: Inspection) -> Inspection | None:
    if inspection.supersedes_id is not None:
        return _load(session, inspection.supersedes_id)
    if inspection.revision > 1:
        prev_id = session.scalar(select(Inspection.id).where(Inspection.visit_id == inspection.visit_id,
                                                              Inspection.revision == inspection.revision - 1))
        return _load(session, prev_id) if prev_id is not None else None
    return None


def _photos_by_item(inspection: Inspection) -> dict:
    out: dict = defaultdict(set)
    for photo in inspection.photos:
        out[photo.item_id].add(photo.sha256)
    return out


def _plain(value):
    """Return a value as JSON has it (times as ISO 8601 UTC)."""
    return value.astimezone(timezone.utc).isoformat() if isinstance(value, datetime) else value


def diff(previous: Inspection | None, current: Inspection) -> dict | None:
    """Return what changed from the previous revision: fields, and items whose result, note or photos did."""
    if previous is None:
        return None
    fields = {}
    for name in ("outcome", "notes", "late_reason", "started_at", "finished_at"):
        old, new = getattr(previous, name), getattr(current, name)
        if old != new:
            fields[name] = {"from": _plain(old), "to": _plain(new)}
    before = {r.item_id: r for r in previous.results}
    after = {r.item_id: r for r in current.results}
    old_photos, new_photos = _photos_by_item(previous), _photos_by_item(current)
    items = []
    for item_id in sorted(set(before) | set(after)):
        old, new = before.get(item_id), after.get(item_id)
        change = {"item_id": item_id}
        if (old and old.result) != (new and new.result):
            change["result"] = {"from": old and old.result, "to": new and new.result}
        if (old and old.note) != (new and new.note):
            change["note"] = {"from": old and old.note, "to": new and new.note}
        added = sorted(new_photos.get(item_id, set()) - old_photos.get(item_id, set()))
        removed = sorted(old_photos.get(item_id, set()) - new_photos.get(item_id, set()))
        if added or removed:
            change["photos"] = {"added": added, "removed": removed}
        if len(change) > 1:
            items.append(change)
    scene_added = sorted(new_photos.get(None, set()) - old_photos.get(None, set()))
    scene_removed = sorted(old_photos.get(None, set()) - new_photos.get(None, set()))
    return {"previous_id": previous.id, "previous_revision": previous.revision, "fields": fields, "items": items,
            "scene_photos": {"added": scene_added, "removed": scene_removed}}


_FACT_KEYS = ("captured_at", "captured_offset", "gps_lat", "gps_lon", "make", "model", "software", "orientation",
              "has_camera_metadata", "exif_readable")


def get_record(session, actor, inspection_id: int, *, now: datetime, config) -> dict:
    """Return one revision in full for review; compute its flags first if they are missing."""
    inspection = _load(session, inspection_id)
    if inspection.flags is None:
        authenticity.refresh_many(session, [inspection], now=now, config=config, force=True)
    visit = inspection.visit
    items = {i.id: i for i in session.scalars(
        select(ChecklistItem).where(ChecklistItem.id.in_([r.item_id for r in inspection.results])))}
    evidence = {e.sha256: e for e in session.scalars(
        select(Evidence).where(Evidence.sha256.in_([p.sha256 for p in inspection.photos])))}
    flags = inspection.flags or []
    photos_by_item: dict = defaultdict(list)
    photos = []
    for photo in inspection.photos:
        found = evidence.get(photo.sha256)
        photos_by_item[photo.item_id].append(photo.sha256)
        photos.append({
            "sha256": photo.sha256, "item_id": photo.item_id, "captured_at": photo.captured_at,
            "lat": photo.lat, "lon": photo.lon, "accuracy_m": photo.accuracy_m,
            "evidence": None if found is None else {
                "format": found.format, "width": found.width, "height": found.height, "size": found.size,
                "phash": found.phash, "uploaded_at": found.uploaded_at,
                "facts": {k: (found.facts or {}).get(k) for k in _FACT_KEYS}},
            "flags": [f for f in flags if f.get("photo") == photo.sha256],
        })
    results = []
    for result in inspection.results:
        item = items.get(result.item_id)
        results.append({
            "item_id": result.item_id, "code": item.code if item else None, "text": item.text if item else None,
            "legal_basis": item.legal_basis if item else None, "severity": item.severity if item else None,
            "department": item.department.short if item else None, "result": result.result, "note": result.note,
            "photos": photos_by_item.get(result.item_id, []),
        })
    reviews = session.scalars(select(Review).where(Review.inspection_id == inspection.id).order_by(Review.id)).all()
    reviewers = {u.id: u for u in session.scalars(select(User).where(User.id.in_({r.reviewer_id for r in reviews})))}
    rects = session.scalars(select(Rectification).where(Rectification.inspection_id == inspection.id)
                            .order_by(Rectification.id)).all()
    submitter = session.get(User, inspection.submitted_by_id)
    record = summary(session, inspection)
    record.update({
        "visit": {"id": visit.id, "status": visit.status, "planned_month": visit.planned_month,
                  "exemption": visit.exemption},
        "target": {"id": visit.target.id, "name": visit.target.name, "credit_code": visit.target.credit_code,
                   "address": visit.target.address, "lat": visit.target.lat, "lon": visit.target.lon,
                   "risk": visit.target.risk},
        "rounds": [{"id": r.id, "kind": r.kind, "period_key": r.period_key, "scene_id": r.scene_id,
                    "scene": r.scene_version.name, "window_start": r.window_start, "window_end": r.window_end,
                    "created_at": r.created_at} for r in _rounds_of(session, visit)],
        "submitted_by": person(submitter) if submitter else None,
        "location": None if inspection.lat is None else {"lat": inspection.lat, "lon": inspection.lon,
                                                          "accuracy_m": inspection.accuracy_m},
        "notes": inspection.notes, "late_reason": inspection.late_reason,
        "results": results, "photos": photos,
        "scene_photos": photos_by_item.get(None, []),
        "evidence_missing": [p.sha256 for p in inspection.photos if p.sha256 not in evidence],
        "flags": flags,
        "reviews": [{"id": r.id, "decision": r.decision, "reason": r.reason,
                     "item_comments": r.item_comments or {}, "created_at": r.created_at,
                     "reviewer": {"id": r.reviewer_id, "full_name": reviewers[r.reviewer_id].full_name}}
                    for r in reviews],
        "rectifications": [{"id": r.id, "item_id": r.item_id, "status": r.status, "deadline": r.deadline}
                           for r in rects],
        "diff": diff(_previous(session, inspection), inspection),
    })
    return record


# --- decisions -------------------------------------------------------------------------------------


def decide(session, actor, inspection_id: int, values: dict, *, now: datetime, config) -> Review:
    """Take a decision on a submitted revision; a decided one is locked (409 review.state)."""
    inspection = _load(session, inspection_id, lock=True)
    if inspection.status != "submitted":
        raise ApiError("review.state", details={"status": inspection.status})
    decision = values["decision"]
    reason = (values.get("reason") or "").strip() or None
    if decision != "approved" and reason is None:
        raise ValidationFailed({"reason": ["Give a reason unless approving."]})
    comments = {}
    known = {r.item_id for r in inspection.results}
    problems = {}
    for key, text in (values.get("item_comments") or {}).items():
        try:
            item_id = int(key)
        except (TypeError, ValueError):
            item_id = None
        if item_id not in known:
            problems[str(key)] = ["Not an item of this record."]
        elif text.strip():
            comments[str(item_id)] = text.strip()
    if problems:
        raise ValidationFailed({"item_comments": problems})
    if inspection.flags is None:
        authenticity.refresh_many(session, [inspection], now=now, config=config)  # judged with its flags
    return _decide(session, actor, inspection, decision, reason, comments, now=now)


def _decide(session, actor, inspection: Inspection, decision: str, reason, comments: dict, *, now: datetime,
            bulk: bool = False) -> Review:
    review = Review(inspection_id=inspection.id, reviewer_id=actor.id, decision=decision, reason=reason,
                    item_comments=comments or None, created_at=now)
    inspection.status = decision
    session.add(review)
    session.flush()
    data = {"review_id": review.id, "uuid": inspection.uuid, "visit_id": inspection.visit_id,
            "revision": inspection.revision, "decision": decision, "reason": reason,
            "flags": len(inspection.flags or []), "item_comments": sorted(comments)}
    if bulk:
        data["bulk"] = True
    audit.record(session, actor, VERBS[decision], "inspection", inspection.id, data, now=now)
    return review


def bulk_approve(session, actor, inspection_ids: list[int], *, now: datetime, config) -> dict:
    """Approve the unflagged, submitted, evidence-complete records among these; say why others were skipped."""
    wanted = list(dict.fromkeys(inspection_ids))
    _lock_visits(session, wanted)
    found = {i.id: i for i in session.scalars(
        select(Inspection).options(*_LOAD).where(Inspection.id.in_(wanted)).with_for_update(of=Inspection)).unique()}
    authenticity.refresh_many(session, [i for i in found.values() if i.status == "submitted" and i.flags is None],
                              now=now, config=config)
    shas = {p.sha256 for i in found.values() for p in i.photos}
    present = set(session.scalars(select(Evidence.sha256).where(Evidence.sha256.in_(shas)))) if shas else set()
    results = []
    for inspection_id in wanted:
        inspection = found.get(inspection_id)
        if inspection is None:
            results.append({"inspection_id": inspection_id, "result": "skipped", "reason": "not_found"})
        elif inspection.status != "submitted":
            results.append({"inspection_id": inspection_id, "result": "skipped", "reason": "state",
                            "status": inspection.status})
        elif any(p.sha256 not in present for p in inspection.photos):
            results.append({"inspection_id": inspection_id, "result": "skipped", "reason": "evidence_incomplete"})
        elif inspection.flags:
            results.append({"inspection_id": inspection_id, "result": "skipped", "reason": "flagged",
                            "flags": sorted({f["code"] for f in inspection.flags})})
        else:
            review = _decide(session, actor, inspection, "approved", None, {}, now=now, bulk=True)
            results.append({"inspection_id": inspection_id, "result": "approved", "review_id": review.id})
    approved = sum(1 for r in results if r["result"] == "approved")
    return {"approved": approved, "skipped": len(results) - approved, "results": results}


def comments_for_user(session, user) -> list[dict]:
    """Return reviewers' reasons and item comments on records awaiting the user's correction.

    For the offline pack: every revision the user submitted or took part in that a reviewer sent
    back (rejected, or needs more evidence) and that no later revision has superseded. Plain JSON
    values (times as ISO 8601 UTC), newest decision first.
    """
    took_part = select(InspectionInspector.inspection_id).where(InspectionInspector.user_id == user.id)
    inspections = session.scalars(select(Inspection).where(
        Inspection.status.in_(("rejected", "needs_evidence")),
        or_(Inspection.submitted_by_id == user.id, Inspection.id.in_(took_part)))).all()
    if not inspections:
        return []
    by_id = {i.id: i for i in inspections}
    latest: dict[int, Review] = {}
    for review in session.scalars(select(Review).where(Review.inspection_id.in_(by_id)).order_by(Review.id)):
        latest[review.inspection_id] = review
    out = []
    for inspection_id, review in latest.items():
        inspection = by_id[inspection_id]
        out.append({
            "inspection_id": inspection.id, "inspection_uuid": inspection.uuid, "visit_id": inspection.visit_id,
            "revision": inspection.revision, "decision": review.decision, "reason": review.reason,
            "reviewed_at": review.created_at.astimezone(timezone.utc).isoformat(),
            "item_comments": [{"item_id": int(k), "comment": v}
                              for k, v in sorted((review.item_comments or {}).items(), key=lambda kv: int(kv[0]))],
        })
    out.sort(key=lambda c: c["reviewed_at"], reverse=True)
    return out


# --- reports ---------------------------------------------------------------------------------------


def report_summary(session, actor, *, period: str | None = None, squad_id: int | None = None,
                   now: datetime) -> dict:
    """Count approved records by outcome, scene and department, and rectifications, for a squad or all."""
    if not is_all_seeing(actor):
        if actor.squad_id is None or (squad_id is not None and squad_id != actor.squad_id):
            raise NotFound("squad")  # a leader reports on their own squad only
        squad_id = actor.squad_id
    elif squad_id is not None and session.get(Squad, squad_id) is None:
        raise NotFound("squad")
    bounds = periods.period_bounds(period) if period else None

    stmt = (select(Inspection.id, Inspection.visit_id, Inspection.outcome)
            .join(Visit, Visit.id == Inspection.visit_id).join(Round, Round.id == Visit.round_id)
            .where(Inspection.status == "approved"))
    if squad_id is not None:
        stmt = stmt.where(Round.squad_id == squad_id)
    if bounds:
        stmt = stmt.where(Inspection.finished_at >= bounds[0], Inspection.finished_at < bounds[1])
    approved = session.execute(stmt).all()
    ids = [row.id for row in approved]
    outcomes = Counter(row.outcome for row in approved)

    scenes: Counter = Counter()
    scene_names: dict[int, str] = {}
    visit_ids = sorted({row.visit_id for row in approved})
    visit_scenes: dict[int, set[int]] = defaultdict(set)
    for chunk in _chunks(visit_ids):
        for visit_id, scene_id, name in session.execute(
                select(Visit.id, Round.scene_id, SceneVersion.name)
                .join(VisitRound, VisitRound.visit_id == Visit.id).join(Round, Round.id == VisitRound.round_id)
                .join(SceneVersion, SceneVersion.id == Round.scene_version_id).where(Visit.id.in_(chunk))):
            visit_scenes[visit_id].add(scene_id)
            scene_names[scene_id] = name
        for visit_id, scene_id, name in session.execute(
                select(Visit.id, Round.scene_id, SceneVersion.name).join(Round, Round.id == Visit.round_id)
                .join(SceneVersion, SceneVersion.id == Round.scene_version_id).where(Visit.id.in_(chunk))):
            visit_scenes[visit_id].add(scene_id)
            scene_names[scene_id] = name
    for row in approved:
        for scene_id in visit_scenes[row.visit_id]:
            scenes[scene_id] += 1

    departments: dict[int, dict] = {}
    for chunk in _chunks(ids):
        for inspection_id, result, dept_id in session.execute(
                select(ItemResult.inspection_id, ItemResult.result, ChecklistItem.department_id)
                .join(ChecklistItem, ChecklistItem.id == ItemResult.item_id)
                .where(ItemResult.inspection_id.in_(chunk))):
            entry = departments.setdefault(dept_id, {"inspections": set(), "items_checked": 0, "items_failed": 0})
            if result == "na":
                continue
            entry["inspections"].add(inspection_id)
            entry["items_checked"] += 1
            entry["items_failed"] += result == "fail"
    names = {d.id: d for d in session.scalars(select(Department).where(Department.id.in_(departments)))}

    rect = select(Rectification.status, Rectification.deadline, Rectification.escalated_at)
    if squad_id is not None:
        rect = rect.where(Rectification.squad_id == squad_id)
    if bounds:
        rect = rect.where(Rectification.opened_at >= bounds[0], Rectification.opened_at < bounds[1])
    rect_counts = {"open": 0, "reinspection_planned": 0, "closed": 0, "overdue": 0, "escalated": 0}
    for status, deadline, escalated_at in session.execute(rect):
        if status == "closed":
            rect_counts["closed"] += 1
        else:  # open counts every rectification not yet closed (销号), re-inspection planned or not
            rect_counts["open"] += 1
            rect_counts["reinspection_planned"] += status == "reinspection_planned"
            rect_counts["overdue"] += deadline + OVERDUE_AFTER < now
        if escalated_at is not None:
            rect_counts["escalated"] += 1
    return {
        "period": period, "squad_id": squad_id, "approved": len(approved),
        "by_outcome": {k: outcomes.get(k, 0) for k in ("pass", "rectify", "refer")},
        "by_scene": [{"scene_id": k, "name": scene_names[k], "approved": v}
                     for k, v in sorted(scenes.items(), key=lambda kv: (-kv[1], kv[0]))],
        "by_department": [{"code": names[k].code, "name": names[k].name, "inspections": len(v["inspections"]),
                           "items_checked": v["items_checked"], "items_failed": v["items_failed"]}
                          for k, v in sorted(departments.items()) if v["inspections"]],
        "rectifications": rect_counts,
    }


def _chunks(values: list, size: int = 500):
    for start in range(0, len(values), size):
        yield values[start:start + size]


__all__ = ["BULK_LIMIT", "bulk_approve", "comments_for_user", "decide", "diff", "get_record", "person", "queue",
           "report_summary", "summary"]
