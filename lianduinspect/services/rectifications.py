"""The rectification loop (整改 → 复查 → 销号): deadlines, re-inspection visits, closing, escalation, look-back.

A failed item of a record with outcome "rectify" opens a rectification (the inspection service
does, auditing ``rectification.open``). When its deadline arrives a re-inspection visit is planned
in the squad's re-inspection round for that scene and month; the inspector closes it with an
"after" photo that must not be the "before" photo again. Unclosed ones a week past the deadline
are overdue and escalated to the squad leader; a random share of last month's closed ones is
drawn for a look-back (回头看).
"""
from __future__ import annotations

import hashlib
import math
import random
import secrets
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError

from ..errors import ApiError, NotFound, ValidationFailed
from ..models import (ChecklistItem, Evidence, Inspection, InspectionInspector, InspectionPhoto, Rectification,
                      Round, Scene, SceneVersion, User, UserRole, Visit)
from ..permissions import is_all_seeing
from ..rules import periods
from . import audit, authenticity
from .paging import paginate

OVERDUE_AFTER = timedelta(days=7)  # the re-inspection's week after the deadline; later is overdue
REINSPECTION_WINDOW = timedelta(days=14)


def overdue_clause(now: datetime):
    """SQL: not closed a week after the deadline."""
    return and_(Rectification.status != "closed", Rectification.deadline < now - OVERDUE_AFTER)


def is_overdue(rect: Rectification, now: datetime) -> bool:
    """Tell whether a rectification is overdue at ``now``."""
    return rect.status != "closed" and rect.deadline < now - OVERDUE_AFTER


def _scoped(stmt, actor):
    """Limit to what the actor may see: their squad's, or all for supervisors and admins."""
    if is_all_seeing(actor):
        return stmt
    return stmt.where(Rectification.squad_id == actor.squad_id)


def list_rectifications(session, actor, *, now: datetime, status=None, overdue=None, escalated=None,
                        lookback=None, squad_id=None, target_id=None, cursor=None, limit=50):
    """Return a page of rectifications the actor may see, filtered."""
    stmt = _scoped(select(Rectification), actor)
    if status:
        stmt = stmt.where(Rectification.status == status)
    if overdue is True:
        stmt = stmt.where(overdue_clause(now))
    elif overdue is False:
        stmt = stmt.where(~overdue_clause(now))
    if escalated is not None:
        stmt = stmt.where(Rectification.escalated_at.is_not(None) if escalated else Rectification.escalated_at.is_(None))
    if lookback is not None:
        stmt = stmt.where(Rectification.lookback.is_(lookback))
    if squad_id is not None:
        stmt = stmt.where(Rectification.squad_id == squad_id)
    if target_id is not None:
        stmt = stmt.where(Rectification.target_id == target_id)
    rows, next_cursor = paginate(session, stmt, Rectification.id, cursor, limit)
    return [_with_overdue(r, now) for r in rows], next_cursor


def _with_overdue(rect: Rectification, now: datetime) -> Rectification:
    """Note on the instance whether it is overdue now, for the wire."""
    rect.overdue = is_overdue(rect, now)
    return rect


def get_rectification(session, actor, rect_id: int, *, lock: bool = False) -> Rectification:
    """Return one rectification the actor may see; 404 for others' so existence does not leak."""
    stmt = _scoped(select(Rectification), actor).where(Rectification.id == rect_id)
    if lock:
        stmt = stmt.with_for_update()
    rect = session.scalars(stmt).one_or_none()
    if rect is None:
        raise NotFound("rectification")
    return rect


def change_deadline(session, actor, rect_id: int, values: dict, *, now: datetime) -> Rectification:
    """Move an open rectification's deadline, with the leader's reason (audited)."""
    rect = get_rectification(session, actor, rect_id, lock=True)
    if rect.status != "open":
        raise ApiError("rectification.state", "Only an open rectification's deadline can change.",
                       {"status": rect.status})
    deadline = values["deadline"]
    if deadline <= now:
        raise ValidationFailed({"deadline": ["The new deadline must be in the future."]})
    old = rect.deadline
    rect.deadline = deadline
    session.flush()
    audit.record(session, actor, "rectification.deadline", "rectification", rect.id,
                 {"from": old.isoformat(), "to": deadline.isoformat(), "reason": values["reason"].strip()}, now=now)
    return _with_overdue(rect, now)


def _before_photos(session, rect: Rectification) -> set[str]:
    """Return the SHA-256 of every photo of the failed item, in every revision of its visit."""
    visit_id = session.scalar(select(Inspection.visit_id).where(Inspection.id == rect.inspection_id))
    shas = set(session.scalars(
        select(InspectionPhoto.sha256).join(Inspection, Inspection.id == InspectionPhoto.inspection_id)
        .where(Inspection.visit_id == visit_id, InspectionPhoto.item_id == rect.item_id)))
    if rect.before_sha256:
        shas.add(rect.before_sha256)
    return shas


def close(session, actor, rect_id: int, values: dict, *, now: datetime, config) -> Rectification:
    """Close (销号) with an "after" photo that is stored and is not the "before" photo again."""
    rect = get_rectification(session, actor, rect_id, lock=True)
    if rect.status == "closed":
        raise ApiError("rectification.state", "The rectification is closed already.", {"status": rect.status})
    after_sha = values["after_sha256"].lower()
    after = session.get(Evidence, after_sha)
    if after is None:
        raise ValidationFailed({"after_sha256": ["Upload the after photo first; none has this SHA-256."]})
    befores = _before_photos(session, rect)
    limit = authenticity.thresholds(config).phash_max_distance
    if after_sha in befores:
        raise ApiError("rectification.same_photo", details={"distance": 0, "limit": limit})
    distance = None
    if after.phash:
        others = [p for p in session.scalars(select(Evidence.phash).where(Evidence.sha256.in_(befores)))
                  if p] if befores else []
        distance = authenticity.closest(after.phash, after.facts, others)
        # A re-encoded, resized or turned copy of the before photo proves nothing was put right.
        if distance is not None and distance <= limit:
            raise ApiError("rectification.same_photo", details={"distance": distance, "limit": limit})
    rect.status = "closed"
    rect.after_sha256 = after_sha
    rect.closed_at = now
    session.flush()
    audit.record(session, actor, "rectification.close", "rectification", rect.id,
                 {"after_sha256": after_sha, "before_distance": distance,
                  "reinspection_visit_id": rect.reinspection_visit_id}, now=now)
    return _with_overdue(rect, now)


def open_rectification(session, actor, inspection: Inspection, item_id: int, *, deadline: datetime,
                       before_sha256: str | None = None, now: datetime) -> Rectification:
    """Open a rectification for a failed item of a record (audited ``rectification.open``)."""
    visit = session.get(Visit, inspection.visit_id)
    rect = Rectification(inspection_id=inspection.id, item_id=item_id, target_id=visit.target_id,
                         squad_id=visit.round.squad_id, status="open", deadline=deadline,
                         before_sha256=before_sha256, lookback=False, opened_at=now)
    session.add(rect)
    session.flush()
    audit.record(session, actor, "rectification.open", "rectification", rect.id,
                 {"inspection_id": inspection.id, "item_id": item_id, "target_id": visit.target_id,
                  "deadline": deadline.isoformat()}, now=now)
    return rect


# --- jobs ------------------------------------------------------------------------------------------


def _reinspection_round(session, squad_id: int, scene_id: int, month: str, *, now: datetime) -> Round:
    """Return the squad's re-inspection round for the scene and month, creating it once."""
    stmt = select(Round).where(Round.kind == "reinspection", Round.squad_id == squad_id, Round.scene_id == scene_id,
                               Round.period_key == month)
    rnd = session.scalars(stmt).one_or_none()
    if rnd is not None:
        if rnd.window_end < now + REINSPECTION_WINDOW:
            rnd.window_end = now + REINSPECTION_WINDOW  # each planned visit gets its fortnight
        return rnd
    scene = session.get(Scene, scene_id)
    version = session.scalar(select(SceneVersion).where(SceneVersion.scene_id == scene_id,
                                                        SceneVersion.version == scene.current_version))
    rnd = Round(scene_id=scene_id, scene_version_id=version.id, squad_id=squad_id, period_key=month,
                kind="reinspection", status="planned", title=f"复查 {version.name} {month}", window_start=now,
                window_end=now + REINSPECTION_WINDOW, created_at=now, created_by_id=None)
    try:
        with session.begin_nested():
            session.add(rnd)
            session.flush()
    except IntegrityError:
        # Another scheduler made it first (uq_rounds_reinspection): use theirs.
        return session.scalars(stmt).one()
    audit.record(session, None, "round.create", "round", rnd.id,
                 {"kind": "reinspection", "scene_id": scene_id, "squad_id": squad_id, "month_key": month}, now=now)
    return rnd


def plan_reinspections(session, *, now: datetime) -> list[Rectification]:
    """Plan a re-inspection visit for every open rectification whose deadline has arrived."""
    due = list(session.scalars(
        select(Rectification).where(Rectification.status == "open", Rectification.deadline <= now)
        .order_by(Rectification.id).with_for_update(skip_locked=True)))
    if not due:
        return []
    month = periods.month_key_of(now)
    scene_of = dict(session.execute(
        select(ChecklistItem.id, SceneVersion.scene_id).join(SceneVersion, SceneVersion.id == ChecklistItem.scene_version_id)
        .where(ChecklistItem.id.in_({r.item_id for r in due}))).all())
    groups: dict[tuple[int, int, int], list[Rectification]] = defaultdict(list)
    for rect in due:
        groups[(rect.squad_id, scene_of[rect.item_id], rect.target_id)].append(rect)
    for (squad_id, scene_id, target_id), rects in sorted(groups.items()):
        rnd = _reinspection_round(session, squad_id, scene_id, month, now=now)
        # One visit re-inspects every item of the target due in this round.
        visit = session.scalars(select(Visit).where(Visit.round_id == rnd.id, Visit.target_id == target_id,
                                                    Visit.status == "pending")).first()
        if visit is None:
            visit = Visit(round_id=rnd.id, target_id=target_id, code=secrets.token_urlsafe(12), status="pending",
                          planned_month=month, exemption="reinspection",  # exempt from the monthly cap (无事不扰)
                          created_at=now, updated_at=now)
            visit.rounds = [rnd]
            session.add(visit)
            session.flush()
        # The team that found the failures re-inspects, when still active in the squad.
        team = session.scalars(select(User).join(InspectionInspector, InspectionInspector.user_id == User.id).where(
            InspectionInspector.inspection_id.in_({r.inspection_id for r in rects}), User.active.is_(True),
            User.squad_id == squad_id).order_by(User.id).distinct()).all()
        members = {u.id for u in rnd.members}
        rnd.members.extend(u for u in team if u.id not in members)
        for rect in rects:
            rect.status = "reinspection_planned"
            rect.reinspection_visit_id = visit.id
            audit.record(session, None, "rectification.plan", "rectification", rect.id,
                         {"visit_id": visit.id, "round_id": rnd.id, "deadline": rect.deadline.isoformat()}, now=now)
    session.flush()
    return due


def escalate_overdue(session, *, now: datetime) -> list[Rectification]:
    """Escalate to the squad leader every overdue rectification not escalated yet."""
    rects = list(session.scalars(select(Rectification).where(overdue_clause(now), Rectification.escalated_at.is_(None))
                                 .order_by(Rectification.id).with_for_update(skip_locked=True)))
    leaders: dict[int, list[int]] = defaultdict(list)
    for user_id, squad_id in session.execute(
            select(User.id, User.squad_id).join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == "leader", User.active.is_(True),
                   User.squad_id.in_({r.squad_id for r in rects})).order_by(User.id)):
        leaders[squad_id].append(user_id)
    for rect in rects:
        rect.escalated_at = now
        audit.record(session, None, "rectification.escalate", "rectification", rect.id,
                     {"squad_id": rect.squad_id, "leaders": leaders.get(rect.squad_id, []),
                      "deadline": rect.deadline.isoformat(), "status": rect.status}, now=now)
    session.flush()
    return rects


def _previous_month(now: datetime) -> str:
    start, _ = periods.period_bounds(periods.month_key_of(now))
    return periods.month_key_of(start - timedelta(seconds=1))


def draw_lookback(session, *, now: datetime, share: float = 0.1, seed) -> list[Rectification]:
    """Mark a random share of last month's closed rectifications for a look-back (回头看), reproducibly.

    The candidates (closed in the previous bureau-local month, by id) and the seed fix the draw, so
    it can be recomputed from the audit record. A month is drawn once: running the job again, with
    any seed, returns that month's draw and changes nothing.
    """
    if not 0 < share <= 1:
        raise ValueError("share must be within (0, 1]")
    month = _previous_month(now)
    start, end = periods.period_bounds(month)
    candidates = list(session.scalars(select(Rectification).where(
        Rectification.status == "closed", Rectification.closed_at >= start, Rectification.closed_at < end)
        .order_by(Rectification.id)))
    if not candidates:
        return []
    drawn = [r for r in candidates if r.lookback]
    if drawn:
        return drawn
    ids = [r.id for r in candidates]
    digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()
    rng = random.Random(int(hashlib.sha256(f"lookback:{seed}:{month}:{digest}".encode()).hexdigest(), 16))
    picked = set(rng.sample(ids, math.ceil(share * len(ids))))
    chosen = [r for r in candidates if r.id in picked]
    for rect in chosen:
        rect.lookback = True
        audit.record(session, None, "rectification.lookback", "rectification", rect.id,
                     {"month": month, "seed": str(seed), "share": share, "candidates": len(ids),
                      "candidates_digest": digest}, now=now)
    session.flush()
    return chosen


__all__ = ["OVERDUE_AFTER", "change_deadline", "close", "draw_lookback", "escalate_overdue", "get_rectification",
           "is_overdue", "list_rectifications", "open_rectification", "overdue_clause", "plan_reinspections"]
