"""The offline pack: everything an inspector's phone needs for the open rounds they are on the team of."""
from __future__ import annotations

import hashlib

from sqlalchemy import or_, select

from ..models import (ChecklistItem, Department, Inspection, InspectionInspector, Rectification, Round,
                      RoundMember, Scene, SceneVersion, Target, User, Visit, VisitRound)
from ..rules.chain import canonical
from . import reviews

CLOSED_ROUNDS = ("cancelled", "completed")
OPEN_RECTIFICATIONS = ("open", "reinspection_planned")


def _dept(code, name) -> dict | None:
    return None if code is None else {"code": code, "name": name}


def build_pack(session, actor) -> dict:
    """Return the pack for the actor's open rounds, with reviewers' comments awaiting the actor's correction."""
    content = _rounds_pack(session, actor)
    # Reviewers' decisions and item comments travel back to the phone with the pack.
    content["review_comments"] = reviews.comments_for_user(session, actor)
    return content


def _rounds_pack(session, actor) -> dict:
    """Return the pack for the actor's open rounds, every list in a fixed order so equal packs are equal."""
    rows = session.execute(
        select(Round.id, Round.scene_id, Round.scene_version_id, Round.squad_id, Round.period_key, Round.kind,
               Round.status, Round.title, Round.window_start, Round.window_end)
        .join(RoundMember, RoundMember.round_id == Round.id)
        .where(RoundMember.user_id == actor.id, Round.status.not_in(CLOSED_ROUNDS)).order_by(Round.id)).all()
    mine = [r.id for r in rows]
    if not mine:
        return {"rounds": [], "visits": [], "targets": [], "scene_versions": [], "rectifications": [],
                "inspections": []}

    team: dict[int, list[dict]] = {rid: [] for rid in mine}
    for row in session.execute(
            select(RoundMember.round_id, User.id, User.full_name, User.certificate_no, Department.code,
                   Department.name)
            .join(User, User.id == RoundMember.user_id).outerjoin(Department, Department.id == User.department_id)
            .where(RoundMember.round_id.in_(mine)).order_by(RoundMember.round_id, User.id)):
        team[row.round_id].append({"id": row.id, "full_name": row.full_name, "certificate_no": row.certificate_no,
                                   "department": _dept(row.code, row.name)})

    visits = session.execute(
        select(Visit.id, Visit.code, Visit.status, Visit.target_id, Visit.round_id, Visit.planned_month,
               Visit.overdue, Visit.skip_reason)
        .where(or_(Visit.round_id.in_(mine),
                   Visit.id.in_(select(VisitRound.visit_id).where(VisitRound.round_id.in_(mine)))))
        .order_by(Visit.id)).all()
    visit_ids = [v.id for v in visits]
    served: dict[int, set[int]] = {v.id: {v.round_id} for v in visits}
    for vid, rid in session.execute(select(VisitRound.visit_id, VisitRound.round_id)
                                    .where(VisitRound.visit_id.in_(visit_ids))):
        served[vid].add(rid)
    all_rounds = sorted({rid for rids in served.values() for rid in rids})
    version_of = dict(session.execute(select(Round.id, Round.scene_version_id).where(Round.id.in_(all_rounds))).all())

    version_ids = sorted(set(version_of.values()))
    versions = session.execute(
        select(SceneVersion.id, SceneVersion.scene_id, Scene.code, SceneVersion.version, SceneVersion.name,
               SceneVersion.category)
        .join(Scene, Scene.id == SceneVersion.scene_id).where(SceneVersion.id.in_(version_ids))
        .order_by(SceneVersion.id)).all()
    items: dict[int, list[dict]] = {vid: [] for vid in version_ids}
    for row in session.execute(
            select(ChecklistItem.id, ChecklistItem.scene_version_id, ChecklistItem.code, ChecklistItem.text,
                   ChecklistItem.legal_basis, ChecklistItem.severity, ChecklistItem.photo_required_on_fail,
                   Department.code.label("dept_code"), Department.name.label("dept_name"))
            .join(Department, Department.id == ChecklistItem.department_id)
            .where(ChecklistItem.scene_version_id.in_(version_ids))
            .order_by(ChecklistItem.scene_version_id, ChecklistItem.position, ChecklistItem.id)):
        items[row.scene_version_id].append({
            "id": row.id, "code": row.code, "department": _dept(row.dept_code, row.dept_name), "text": row.text,
            "legal_basis": row.legal_basis, "severity": row.severity,
            "photo_required_on_fail": row.photo_required_on_fail})

    def checklist(visit_id: int) -> list[dict]:
        """The merged checklist of a visit: every served round's pinned items, once, grouped per department."""
        groups: dict[str, dict] = {}
        seen: set[int] = set()
        for version_id in dict.fromkeys(version_of[rid] for rid in sorted(served[visit_id])):
            for item in items[version_id]:
                if item["id"] in seen:
                    continue
                seen.add(item["id"])
                group = groups.setdefault(item["department"]["code"],
                                          {"department": item["department"], "item_ids": []})
                group["item_ids"].append(item["id"])
        return list(groups.values())

    target_ids = sorted({v.target_id for v in visits})
    targets = session.execute(select(Target).where(Target.id.in_(target_ids)).order_by(Target.id)).scalars().all()
    rectifications = session.execute(
        select(Rectification.id, Rectification.target_id, Rectification.item_id, Rectification.deadline,
               Rectification.status, Rectification.opened_at, ChecklistItem.code, ChecklistItem.text)
        .join(ChecklistItem, ChecklistItem.id == Rectification.item_id)
        .where(Rectification.target_id.in_(target_ids), Rectification.status.in_(OPEN_RECTIFICATIONS))
        .order_by(Rectification.id)).all()

    latest: dict[int, object] = {}
    for row in session.execute(
            select(Inspection.visit_id, Inspection.uuid, Inspection.revision, Inspection.status, Inspection.outcome,
                   Inspection.evidence_complete)
            .join(InspectionInspector, InspectionInspector.inspection_id == Inspection.id)
            .where(InspectionInspector.user_id == actor.id, Inspection.visit_id.in_(visit_ids))
            .order_by(Inspection.visit_id, Inspection.revision)):
        latest[row.visit_id] = row  # ordered by revision: the last one wins

    named = {v.id: v for v in versions}
    return {
        "rounds": [{"id": r.id, "scene": {"id": r.scene_id, "code": named[r.scene_version_id].code,
                                          "name": named[r.scene_version_id].name,
                                          "version": named[r.scene_version_id].version,
                                          "version_id": r.scene_version_id},
                    "squad_id": r.squad_id, "period": r.period_key, "kind": r.kind, "status": r.status,
                    "title": r.title, "window": {"start": r.window_start, "end": r.window_end},
                    "team": team[r.id]} for r in rows],
        "visits": [{"id": v.id, "code": v.code, "status": v.status, "target_id": v.target_id,
                    "round_ids": sorted(served[v.id]), "planned_month": v.planned_month, "overdue": v.overdue,
                    "skip_reason": v.skip_reason, "checklist": checklist(v.id)} for v in visits],
        "targets": [{"id": t.id, "name": t.name, "credit_code": t.credit_code, "category": t.category,
                     "area": t.area.name, "address": t.address, "lat": t.lat, "lon": t.lon, "risk": t.risk,
                     "contact_name": t.contact_name, "contact_phone": t.contact_phone} for t in targets],
        "scene_versions": [{"id": v.id, "scene_id": v.scene_id, "scene_code": v.code, "version": v.version,
                            "name": v.name, "category": v.category, "items": items[v.id]} for v in versions],
        "rectifications": [{"id": r.id, "target_id": r.target_id, "item": {"id": r.item_id, "code": r.code,
                                                                             "text": r.text},
                            "deadline": r.deadline, "status": r.status, "opened_at": r.opened_at}
                           for r in rectifications],
        "inspections": [{"visit_id": vid, "uuid": row.uuid, "revision": row.revision, "status": row.status,
                         "outcome": row.outcome, "evidence_complete": row.evidence_complete}
                        for vid, row in sorted(latest.items())],
    }


def etag(content: dict) -> str:
    """Return a strong validator of a serialized pack: the SHA-256 of its canonical JSON."""
    return hashlib.sha256(canonical(content)).hexdigest()
