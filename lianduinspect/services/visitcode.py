"""The visit code (检查码, 亮码检查): what an inspected enterprise may see and say, anonymously.

Scanning the code shows that the visit is registered (scenes, departments, window, the team's
names and certificate numbers, the items and their legal bases) and takes an anonymous rating.

Anonymity is kept by what is *not* stored: an evaluation holds its visit, rating, comment and a
day, nothing else: no address, user agent, session or exact time, and no audit event (whose exact
time would tie it to a web server's log). Rate limiting counts requests per minute in the
database under salted hashes whose salt is deleted with its minute, so no counter can later be
linked to an address, and counters never refer to evaluations. The inspected squad sees only
aggregates of at least five evaluations, over completed months, so no single rating shows.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import Counter, defaultdict
from datetime import date, datetime

from sqlalchemy import delete, func, select

from ..errors import ApiError, NotFound
from ..models import (ChecklistItem, Department, Evaluation, Inspection, PublicRateCounter, PublicRateSalt, Round,
                      Squad, Visit, VisitRound)
from ..permissions import is_all_seeing
from .paging import paginate
from ..rules.periods import BUREAU_TZ, month_key_of, period_bounds

MAX_EVALUATIONS_PER_VISIT = 3  # the owner, a manager and a clerk, say; not a ballot box
MIN_SHOWN = 5  # the inspected squad sees aggregates of at least this many evaluations
STATUS_OPEN = ("pending", "inspected")


def _visit(session, code: str) -> Visit:
    visit = session.scalars(select(Visit).where(Visit.code == code)).one_or_none()
    if visit is None:
        raise NotFound("visit code")
    return visit


def _rounds(visit: Visit) -> list[Round]:
    rounds = {r.id: r for r in visit.rounds}
    rounds.setdefault(visit.round.id, visit.round)
    return [rounds[k] for k in sorted(rounds)]


def accepting(visit: Visit) -> bool:
    """Tell whether the visit takes ratings: it stands (not skipped, its rounds not all cancelled)."""
    return visit.status in STATUS_OPEN and any(r.status != "cancelled" for r in _rounds(visit))


def public_visit(session, code: str) -> dict:
    """Describe a registered visit to whoever holds its code; 404 for an unknown code."""
    visit = _visit(session, code)
    rounds = _rounds(visit)
    dept_codes = []
    for rnd in rounds:
        dept_codes.extend(c for c in rnd.scene_version.departments if c not in dept_codes)
    departments = {d.code: d for d in session.scalars(select(Department).where(Department.code.in_(dept_codes)))}
    latest = session.scalars(select(Inspection).where(Inspection.visit_id == visit.id)
                             .order_by(Inspection.revision.desc()).limit(1)).first()
    # Who actually came, once a record is in; until then the team assigned to the rounds.
    people = list(latest.inspectors) if latest is not None else sorted(
        {u.id: u for rnd in rounds for u in rnd.members}.values(), key=lambda u: u.id)
    seen = set()
    items = []
    for item in session.scalars(select(ChecklistItem).where(
            ChecklistItem.scene_version_id.in_([r.scene_version_id for r in rounds]))
            .order_by(ChecklistItem.scene_version_id, ChecklistItem.position)):
        key = (item.text, item.legal_basis)
        if key in seen:
            continue  # a joint visit checks a shared item once
        seen.add(key)
        items.append({"text": item.text, "legal_basis": item.legal_basis, "department": item.department.name})
    stands = any(r.status != "cancelled" for r in rounds) and visit.status != "skipped"
    return {
        "code": visit.code,
        "registered": stands,
        "status": visit.status if stands else "cancelled",
        "target": {"name": visit.target.name, "address": visit.target.address},
        "scenes": [{"name": r.scene_version.name,
                    "departments": [departments[c].name for c in r.scene_version.departments if c in departments]}
                   for r in rounds],
        "departments": [departments[c].name for c in dept_codes if c in departments],
        "window": {"start": min(r.window_start for r in rounds), "end": max(r.window_end for r in rounds)},
        "inspected_at": latest.finished_at if latest is not None else None,
        "inspectors": [{"full_name": u.full_name, "certificate_no": u.certificate_no,
                        "department": u.department.name if u.department else None} for u in people],
        "items": items,
        "accepting_evaluations": accepting(visit),
    }


def evaluate(session, code: str, values: dict, *, now: datetime) -> None:
    """Take an anonymous rating (1-5) and comment of a visit; at most three per visit."""
    visit = _visit(session, code)
    if not accepting(visit):
        raise ApiError("evaluation.closed", details={"status": visit.status})
    given = session.scalar(select(func.count()).select_from(Evaluation).where(Evaluation.visit_id == visit.id))
    if given >= MAX_EVALUATIONS_PER_VISIT:
        raise ApiError("evaluation.limit", details={"limit": MAX_EVALUATIONS_PER_VISIT})
    comment = (values.get("comment") or "").strip() or None
    session.add(Evaluation(visit_id=visit.id, rating=values["rating"], comment=comment,
                           created_on=now.astimezone(BUREAU_TZ).date()))
    # No audit event: its exact time would undo the anonymity the day-only date keeps.
    session.flush()


# --- rate limiting -----------------------------------------------------------------------------------


def _insert(session):
    """Return the INSERT construct with ON CONFLICT for the session's database."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def throttle(session, address: str | None, code: str, *, now: datetime, limit: int) -> int | None:
    """Count one public request per client address and per code; return seconds to wait when over."""
    window = int(now.timestamp() // 60)
    # Discard past windows first: their salts and counters die with their minute.
    session.execute(delete(PublicRateCounter).where(PublicRateCounter.window < window))
    session.execute(delete(PublicRateSalt).where(PublicRateSalt.window < window))
    insert = _insert(session)
    session.execute(insert(PublicRateSalt).values(window=window, salt=secrets.token_hex(32))
                    .on_conflict_do_nothing(index_elements=["window"]))
    salt = session.scalar(select(PublicRateSalt.salt).where(PublicRateSalt.window == window))
    worst = 0
    for scope, value in (("address", address or "unknown"), ("code", code)):
        key = hmac.new(salt.encode(), f"{scope}:{value}".encode("utf-8"), hashlib.sha256).hexdigest()
        stmt = insert(PublicRateCounter).values(key=key, window=window, count=1)
        stmt = stmt.on_conflict_do_update(index_elements=["key"],
                                          set_={"count": PublicRateCounter.count + 1}).returning(PublicRateCounter.count)
        worst = max(worst, session.execute(stmt).scalar_one())
    session.flush()
    if worst > limit:
        return max(1, 60 - int(now.timestamp()) % 60)
    return None


# --- what the squads see -----------------------------------------------------------------------------


def _aggregate(ratings: list[int]) -> dict:
    counts = Counter(ratings)
    return {"count": len(ratings), "average": round(sum(ratings) / len(ratings), 2),
            "distribution": {str(k): counts.get(k, 0) for k in range(1, 6)}}


def _rows(session, *, squad_id: int | None = None, before: date | None = None):
    """Return (rating, created_on, squad_id, visit_id) of evaluations, by the visit's planning squad."""
    stmt = (select(Evaluation.rating, Evaluation.created_on, Round.squad_id, Evaluation.visit_id)
            .join(Visit, Visit.id == Evaluation.visit_id).join(Round, Round.id == Visit.round_id))
    if squad_id is not None:
        stmt = stmt.where(Round.squad_id == squad_id)
    if before is not None:
        stmt = stmt.where(Evaluation.created_on < before)
    return session.execute(stmt).all()


def summary(session, actor, *, now: datetime) -> dict:
    """Return evaluation aggregates: a leader's own squad (five or more, completed months); all for oversight."""
    if not is_all_seeing(actor):
        if actor.squad_id is None:
            raise NotFound("squad")
        # Completed months only: a running total that moves with each new rating would reveal it.
        month_start = period_bounds(month_key_of(now))[0].astimezone(BUREAU_TZ).date()
        rows = _rows(session, squad_id=actor.squad_id, before=month_start)
        out = {"scope": "squad", "squad_id": actor.squad_id, "minimum": MIN_SHOWN, "until": month_start}
        if len(rows) < MIN_SHOWN:
            return {**out, "enough": False, "message": "评价不足5条，暂不显示 (fewer than five evaluations)"}
        months = defaultdict(list)
        for rating, created_on, _squad, _visit in rows:
            months[created_on.strftime("%Y-%m")].append(rating)
        return {**out, "enough": True, **_aggregate([r[0] for r in rows]),
                "months": [{"month": m, **(_aggregate(v) if len(v) >= MIN_SHOWN else {"enough": False})}
                           for m, v in sorted(months.items())]}
    rows = _rows(session)
    squads = {s.id: s for s in session.scalars(select(Squad))}
    by_squad = defaultdict(list)
    for rating, _on, squad_id, _visit in rows:
        by_squad[squad_id].append(rating)
    # A visit's departments: every department taking part in the scenes of the rounds it serves.
    visit_ids = sorted({r[3] for r in rows})
    depts_of = defaultdict(set)
    for start in range(0, len(visit_ids), 500):
        chunk = visit_ids[start:start + 500]
        for visit_id, rnd in session.execute(select(VisitRound.visit_id, Round).join(Round, Round.id == VisitRound.round_id)
                                             .where(VisitRound.visit_id.in_(chunk))):
            depts_of[visit_id].update(rnd.scene_version.departments)
    by_dept = defaultdict(list)
    for rating, _on, _squad, visit_id in rows:
        for code in depts_of[visit_id]:
            by_dept[code].append(rating)
    names = {d.code: d.name for d in session.scalars(select(Department))}
    return {
        "scope": "all", "minimum": MIN_SHOWN,
        "total": _aggregate([r[0] for r in rows]) if rows else {"count": 0},
        "squads": [{"squad_id": k, "name": squads[k].name, **_aggregate(v)} for k, v in sorted(by_squad.items())],
        "departments": [{"code": k, "name": names.get(k, k), **_aggregate(v)} for k, v in sorted(by_dept.items())],
    }


def comments(session, *, squad_id: int | None = None, cursor: str | None = None, limit: int = 50):
    """Return a page of written evaluations for oversight, newest first, with the visit's squad and scenes.

    Only supervisors and admins call this: the evaluated squad never sees single evaluations.
    """
    stmt = (select(Evaluation).join(Visit, Visit.id == Evaluation.visit_id).join(Round, Round.id == Visit.round_id)
            .where(Evaluation.comment.is_not(None)))
    if squad_id is not None:
        stmt = stmt.where(Round.squad_id == squad_id)
    rows, next_cursor = paginate(session, stmt, Evaluation.id, cursor, limit, newest_first=True)
    out = []
    for evaluation in rows:
        visit = session.get(Visit, evaluation.visit_id)
        served = _rounds(visit)
        squad = session.get(Squad, visit.round.squad_id)
        out.append({"id": evaluation.id, "rating": evaluation.rating, "comment": evaluation.comment,
                    "created_on": evaluation.created_on, "visit_id": visit.id,
                    "target": {"id": visit.target.id, "name": visit.target.name},
                    "squad": {"id": squad.id, "name": squad.name},
                    "scenes": [r.scene_version.name for r in served]})
    return out, next_cursor


__all__ = ["MAX_EVALUATIONS_PER_VISIT", "MIN_SHOWN", "accepting", "comments", "evaluate", "public_visit", "summary",
           "throttle"]
