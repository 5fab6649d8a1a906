"""GET /pack: what the phone takes offline, only for the user's own open rounds, revalidated by ETag.

Changes between requests go through the `session` fixture: the test client's requests share its
app context, so a change committed elsewhere could hide behind the session's open read snapshot.
"""
from __future__ import annotations

import pytest

from lianduinspect.models import Rectification, Round

from ..factories import make_round, make_scene
from ..inspection_bodies import body, new_uuid, visits_of


pytestmark = pytest.mark.usefixtures("fixed_clock")


def test_pack_holds_only_the_users_open_rounds(app, world, as_inspector, as_stranger):
    pack = as_inspector.get("/api/v1/pack").json
    assert [r["id"] for r in pack["rounds"]] == [world.round.id]
    assert {v["target_id"] for v in pack["visits"]} == {t.id for t in world.targets[:4]}
    assert {t["id"] for t in pack["targets"]} == {t.id for t in world.targets[:4]}
    other = as_stranger.get("/api/v1/pack").json
    assert [r["id"] for r in other["rounds"]] == [world.other_round.id]
    assert not {v["id"] for v in pack["visits"]} & {v["id"] for v in other["visits"]}


def test_pack_of_a_cancelled_round_is_empty(session, world, as_inspector):
    session.get(Round, world.round.id).status = "cancelled"
    session.commit()
    assert as_inspector.get("/api/v1/pack").json == {"rounds": [], "visits": [], "targets": [], "scene_versions": [],
                                                     "rectifications": [], "inspections": [],
                                                     "review_comments": []}


def test_pack_describes_the_team_the_target_and_the_checklist(app, world, as_inspector):
    pack = as_inspector.get("/api/v1/pack").json
    team = pack["rounds"][0]["team"]
    assert [(m["full_name"], m["certificate_no"], m["department"]["code"]) for m in team] == [
        (world.inspector.full_name, world.inspector.certificate_no, "zhzf"),
        (world.partner.full_name, world.partner.certificate_no, "scjg")]
    assert pack["rounds"][0]["scene"]["name"] == "餐饮服务场所"
    target = pack["targets"][0]
    assert set(target) >= {"name", "credit_code", "address", "lat", "lon", "risk", "contact_name", "contact_phone"}
    item = pack["scene_versions"][0]["items"][0]
    assert set(item) == {"id", "code", "department", "text", "legal_basis", "severity", "photo_required_on_fail"}
    groups = pack["visits"][0]["checklist"]
    assert [g["department"]["code"] for g in groups] == ["zhzf", "scjg", "yjgl"]
    assert sum(len(g["item_ids"]) for g in groups) == len(pack["scene_versions"][0]["items"])


def test_joint_visit_lists_every_served_round_and_merges_their_checklists(session, world, as_inspector):
    fire = make_scene(session, [world.departments[2]], code="xiaofang", name="消防安全", items_per_department=3)
    joint = make_round(session, fire, world.squad, [], period_key="2023-Q2")
    visit = visits_of(session, world.round)[0]
    visit.rounds = [world.round, joint]
    session.commit()
    visit_id, joint_id = visit.id, joint.id
    pack = as_inspector.get("/api/v1/pack").json
    shown = next(v for v in pack["visits"] if v["id"] == visit_id)
    assert shown["round_ids"] == sorted([world.round.id, joint_id])
    assert len(pack["scene_versions"]) == 2  # the joint round's pinned checklist comes along
    yjgl = next(g for g in shown["checklist"] if g["department"]["code"] == "yjgl")
    assert len(yjgl["item_ids"]) == 2 + 3


def test_pack_carries_open_rectifications_and_own_inspections(session, world, as_inspector, now):
    visit = visits_of(session, world.round)[0]
    key = new_uuid()
    assert as_inspector.put(f"/api/v1/inspections/{key}", json=body(world, visit, now=now, fail=(0,))).status_code == 201
    pack = as_inspector.get("/api/v1/pack").json
    assert [(r["target_id"], r["status"]) for r in pack["rectifications"]] == [(visit.target_id, "open")]
    assert pack["inspections"] == [{"visit_id": visit.id, "uuid": key, "revision": 1, "status": "submitted",
                                    "outcome": "rectify", "evidence_complete": False}]
    assert next(v for v in pack["visits"] if v["id"] == visit.id)["status"] == "inspected"
    session.query(Rectification).update({"status": "closed"})
    session.commit()
    assert as_inspector.get("/api/v1/pack").json["rectifications"] == []


def test_unchanged_pack_answers_304_to_its_etag(app, world, as_inspector):
    first = as_inspector.get("/api/v1/pack")
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["Cache-Control"] == "no-cache, private"
    again = as_inspector.get("/api/v1/pack", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == etag
    assert as_inspector.get("/api/v1/pack").headers["ETag"] == etag  # deterministic


def test_etag_changes_when_a_visit_changes(session, world, as_inspector):
    etag = as_inspector.get("/api/v1/pack").headers["ETag"]
    visits_of(session, world.round)[1].overdue = True
    session.commit()
    response = as_inspector.get("/api/v1/pack", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.headers["ETag"] != etag


def test_supervisor_has_no_pack(as_supervisor):
    assert as_supervisor.get("/api/v1/pack").status_code == 403


def test_reviewers_comments_travel_back_to_the_inspector_in_the_pack(app, world, session, as_inspector,
                                                                     as_supervisor, now):
    from ..inspection_bodies import body, new_uuid, visits_of

    visit = visits_of(session, world.round)[0]
    record = body(world, visit, now=now, scene_photos=[])
    created = as_inspector.put(f"/api/v1/inspections/{new_uuid()}", json=record)
    assert created.status_code == 201
    item_id = record["results"][0]["item_id"]
    decided = as_supervisor.post(f"/api/v1/inspections/{created.json['id']}/reviews", json={
        "decision": "rejected", "reason": "照片不清晰，请补充", "item_comments": {str(item_id): "请重新拍摄许可证"}})
    assert decided.status_code == 201
    comments = as_inspector.get("/api/v1/pack").json["review_comments"]
    assert [(c["inspection_uuid"], c["decision"], c["reason"]) for c in comments] == [
        (created.json["uuid"], "rejected", "照片不清晰，请补充")]
    assert comments[0]["item_comments"] == [{"item_id": item_id, "comment": "请重新拍摄许可证"}]
