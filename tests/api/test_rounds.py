"""The leaders' rounds API: who sees which rounds, ad-hoc rounds, team changes, cancelling, visits."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from lianduinspect.models import AuditEvent, Round, Visit

from ..factories import make_round, make_target, make_user
from ..services.test_rounds import inspect


def _ids(response):
    assert response.status_code == 200, response.json
    return [r["id"] for r in response.json["items"]]


def _error(response, status, code):
    assert response.status_code == status, response.json
    assert set(response.json) == {"error"} and response.json["error"]["code"] == code
    return response.json["error"]


def _events(session, action):
    session.rollback()  # see what the requests committed
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def _window(days=14):
    start = datetime.now(timezone.utc).replace(microsecond=0)
    return {"start": start.isoformat(), "end": (start + timedelta(days=days)).isoformat()}


@pytest.fixture
def second_round(world, session):
    """Another round of the leader's squad, without the inspector on its team."""
    rnd = make_round(session, world.scene, world.squad, [world.leader, world.partner], world.targets[4:],
                     period_key="2023-05")
    session.commit()
    return rnd


# ---------------------------------------------------------------------------------------------
# Reading


def test_leader_lists_their_squads_rounds_with_progress(world, as_leader, second_round):
    response = as_leader.get("/api/v1/rounds")
    assert _ids(response) == [world.round.id, second_round.id]
    first = response.json["items"][0]
    assert first["progress"] == {"total": 4, "pending": 4, "inspected": 0, "unreachable": 0, "skipped": 0,
                                 "overdue": 0}
    assert first["squad"]["id"] == world.squad.id and first["scene"]["code"] == "canyin"
    assert [m["id"] for m in first["team"]] == [world.inspector.id, world.partner.id]
    assert set(first["window"]) == {"start", "end"} and first["period_key"] == "2023-04"


def test_inspector_lists_only_the_rounds_they_are_on(world, as_inspector, as_stranger, second_round):
    assert _ids(as_inspector.get("/api/v1/rounds")) == [world.round.id]
    assert _ids(as_stranger.get("/api/v1/rounds")) == [world.other_round.id]


def test_supervisor_lists_every_squads_rounds_and_filters_them(world, as_supervisor, second_round):
    assert _ids(as_supervisor.get("/api/v1/rounds")) == [world.round.id, world.other_round.id, second_round.id]
    assert _ids(as_supervisor.get(f"/api/v1/rounds?squad_id={world.other_squad.id}")) == [world.other_round.id]
    assert _ids(as_supervisor.get("/api/v1/rounds?period=2023-05")) == [second_round.id]
    assert _ids(as_supervisor.get(f"/api/v1/rounds?scene_id={world.scene.id}&status=planned&limit=1")) == [
        world.round.id]
    assert _ids(as_supervisor.get("/api/v1/rounds?status=cancelled")) == []
    _error(as_supervisor.get("/api/v1/rounds?status=lost"), 422, "validation")


def test_round_detail_has_visits_team_progress_and_draw(world, as_inspector):
    response = as_inspector.get(f"/api/v1/rounds/{world.round.id}")
    assert response.status_code == 200
    body = response.json
    assert [v["target"]["id"] for v in body["visits"]] == [t.id for t in world.targets[:4]]
    visit = body["visits"][0]
    assert visit["status"] == "pending" and len(visit["code"]) == 16 and visit["round_ids"] == [world.round.id]
    assert visit["joint"] is False and visit["target"]["credit_code"] == world.targets[0].credit_code
    assert body["progress"]["pending"] == 4 and body["draw"] is None  # a hand-made round has no draw


def test_stranger_cannot_read_another_squads_round(world, as_stranger):
    _error(as_stranger.get(f"/api/v1/rounds/{world.round.id}"), 404, "not_found")


def test_inspector_cannot_read_a_round_of_their_squad_they_are_not_on(as_inspector, second_round):
    _error(as_inspector.get(f"/api/v1/rounds/{second_round.id}"), 404, "not_found")


def test_leader_cannot_touch_another_squads_round(world, as_leader, session):
    other = world.other_round
    visit = session.get(Round, other.id).visits[0]
    _error(as_leader.get(f"/api/v1/rounds/{other.id}"), 404, "not_found")
    _error(as_leader.put(f"/api/v1/rounds/{other.id}/team",
                         json={"user_ids": [world.leader.id, world.inspector.id], "reason": "x"}), 404, "not_found")
    _error(as_leader.post(f"/api/v1/rounds/{other.id}/cancel", json={"reason": "x"}), 404, "not_found")
    _error(as_leader.patch(f"/api/v1/visits/{visit.id}", json={"status": "skipped", "reason": "x"}),
           404, "not_found")
    session.rollback()
    assert session.get(Round, other.id).status == "planned"


# ---------------------------------------------------------------------------------------------
# Ad-hoc rounds


def _ad_hoc(world, **over):
    return {"kind": "complaint", "scene_id": world.scene.id, "squad_id": world.squad.id, "title": "12345热线：油烟扰民",
            "window": _window(), "target_ids": [world.targets[4].id],
            "user_ids": [world.leader.id, world.inspector.id], **over}


def test_leader_adds_a_complaint_round_exempt_from_the_monthly_cap(world, as_leader, session):
    campaign = as_leader.post("/api/v1/rounds", json=_ad_hoc(world, kind="campaign", title="餐饮油烟专项"))
    assert campaign.status_code == 201, campaign.json
    assert campaign.json["kind"] == "campaign" and campaign.json["visits"][0]["exemption"] is None
    # The same target again this month: a campaign may not disturb it twice; a complaint may.
    refused = _error(as_leader.post("/api/v1/rounds", json=_ad_hoc(world, kind="campaign", title="再查一次")),
                     422, "validation")
    assert "无事不扰" in refused["details"]["target_ids"][0]
    complaint = as_leader.post("/api/v1/rounds", json=_ad_hoc(world))
    assert complaint.status_code == 201, complaint.json
    body = complaint.json
    assert body["status"] == "planned" and body["title"] == "12345热线：油烟扰民"
    assert [v["exemption"] for v in body["visits"]] == ["complaint"]
    assert [m["id"] for m in body["team"]] == [world.leader.id, world.inspector.id]
    assert body["draw"]["method"] == "chosen" and body["seed"]
    assert [e.subject_id for e in _events(session, "round.create")] == [str(campaign.json["id"]), str(body["id"])]


def test_leader_cannot_add_a_round_for_another_squad(world, as_leader):
    _error(as_leader.post("/api/v1/rounds", json=_ad_hoc(world, squad_id=world.other_squad.id)), 403, "forbidden")


def test_ad_hoc_round_targets_must_be_active_and_in_the_squads_areas(world, as_leader, as_admin):
    error = _error(as_leader.post("/api/v1/rounds", json=_ad_hoc(world, target_ids=[world.other_targets[0].id,
                                                                                     999999])), 422, "validation")
    assert error["details"]["target_ids"] == [f"Target {world.other_targets[0].id} is outside the squad's areas.",
                                              "No target 999999."]
    _error(as_admin.post("/api/v1/rounds", json=_ad_hoc(world, kind="scheduled")), 422, "validation")


def test_ad_hoc_round_targets_must_be_of_the_scenes_category(world, as_leader, session):
    site = make_target(session, world.targets[0].area, category="construction", name="莲都区某建筑工地")
    session.commit()
    error = _error(as_leader.post("/api/v1/rounds", json=_ad_hoc(world, target_ids=[world.targets[4].id, site.id])),
                   422, "validation")
    assert error["details"]["target_ids"] == [f"Target {site.id} is a construction; this scene inspects restaurant."]
    assert _events(session, "round.create") == []
    assert session.scalar(select(Visit.id).where(Visit.target_id == site.id)) is None


def test_ad_hoc_round_needs_two_certified_squad_members(world, as_leader, session):
    helper = make_user(session, squad_id=world.squad.id, certificate_no=None)
    session.commit()
    error = _error(as_leader.post("/api/v1/rounds", json=_ad_hoc(world, user_ids=[world.inspector.id, helper.id])),
                   422, "round.team_unavailable")
    assert error["details"]["found"] == [world.inspector.id] and str(helper.id) in error["details"]["passed_over"]
    _error(as_leader.post("/api/v1/rounds", json=_ad_hoc(world, user_ids=[world.inspector.id])), 422,
           "round.team_unavailable")


def test_ad_hoc_round_window_must_end_after_it_starts(world, as_leader):
    window = _window()
    error = _error(as_leader.post("/api/v1/rounds", json=_ad_hoc(world, window={"start": window["end"],
                                                                                "end": window["start"]})),
                   422, "validation")
    assert "end" in error["details"]["window"]


# ---------------------------------------------------------------------------------------------
# Team changes


def test_leader_changes_the_team_with_a_reason_and_it_is_audited(world, as_leader, session):
    response = as_leader.put(f"/api/v1/rounds/{world.round.id}/team",
                             json={"user_ids": [world.leader.id, world.partner.id], "reason": "陈执法参加培训"})
    assert response.status_code == 200, response.json
    assert [m["id"] for m in response.json["team"]] == [world.leader.id, world.partner.id]
    (event,) = _events(session, "round.assign")
    assert event.actor_id == world.leader.id and event.data == {
        "from": [world.inspector.id, world.partner.id], "to": [world.leader.id, world.partner.id],
        "reason": "陈执法参加培训", "rotation_relaxed": []}


def _inspected_last_time(world, session, inspectors, targets):
    """Record that these inspectors inspected these targets in March, in the world's scene."""
    march = make_round(session, world.scene, world.squad, inspectors, targets, period_key="2023-03",
                       status="completed")
    for visit in march.visits:
        inspect(session, visit, inspectors, datetime(2023, 3, 20, 2, tzinfo=timezone.utc))
    session.commit()


def test_leader_sends_an_inspector_back_to_a_target_with_a_reason_and_the_clash_is_audited(world, as_leader,
                                                                                          session):
    _inspected_last_time(world, session, [world.leader, world.partner], world.targets[:1])
    response = as_leader.put(f"/api/v1/rounds/{world.round.id}/team",
                             json={"user_ids": [world.leader.id, world.partner.id], "reason": "熟悉该店整改情况"})
    assert response.status_code == 200, response.json
    (event,) = _events(session, "round.assign")
    assert event.data["rotation_relaxed"] == [{"user_id": world.leader.id, "target_ids": [world.targets[0].id]},
                                              {"user_id": world.partner.id, "target_ids": [world.targets[0].id]}]


def test_ad_hoc_round_going_back_to_a_target_needs_a_team_reason(world, as_leader, session):
    _inspected_last_time(world, session, [world.leader, world.partner], world.targets[4:5])
    body = _ad_hoc(world, user_ids=[world.leader.id, world.inspector.id])
    error = _error(as_leader.post("/api/v1/rounds", json=body), 422, "round.rotation_clash")
    assert list(error["details"]["clashes"]) == [str(world.leader.id)]
    _error(as_leader.post("/api/v1/rounds", json={**body, "team_reason": " "}), 422, "validation")
    response = as_leader.post("/api/v1/rounds", json={**body, "team_reason": "叶中队长带队复核"})
    assert response.status_code == 201, response.json
    assert response.json["draw"]["rotation_relaxed"] == [{"user_id": world.leader.id,
                                                          "target_ids": [world.targets[4].id]}]


def test_team_change_refuses_outsiders_uncertified_and_a_missing_reason(world, as_leader, session):
    helper = make_user(session, squad_id=world.squad.id, certificate_no=None)
    session.commit()
    path = f"/api/v1/rounds/{world.round.id}/team"
    error = _error(as_leader.put(path, json={"user_ids": [world.leader.id, world.stranger.id], "reason": "x"}),
                   422, "validation")
    assert "not a member" in error["details"]["user_ids"][0]
    _error(as_leader.put(path, json={"user_ids": [world.leader.id, helper.id], "reason": "x"}), 422,
           "round.team_unavailable")
    _error(as_leader.put(path, json={"user_ids": [world.leader.id, world.partner.id]}), 422, "validation")
    _error(as_leader.put(path, json={"user_ids": [world.leader.id, world.partner.id], "reason": "  "}), 422,
           "validation")
    _error(as_leader.put(path, json={"user_ids": [world.leader.id, world.leader.id], "reason": "x"}), 422,
           "validation")
    assert _events(session, "round.assign") == []


# ---------------------------------------------------------------------------------------------
# Cancelling


def test_cancel_needs_a_reason(world, as_leader):
    error = _error(as_leader.post(f"/api/v1/rounds/{world.round.id}/cancel", json={}), 422, "validation")
    assert "reason" in error["details"]


def test_cancelled_rounds_pending_visits_are_skipped_with_the_reason(world, as_leader, session):
    response = as_leader.post(f"/api/v1/rounds/{world.round.id}/cancel", json={"reason": "台风停工"})
    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"] == "cancelled" and body["cancel_reason"] == "台风停工"
    assert {(v["status"], v["reason"]) for v in body["visits"]} == {("skipped", "台风停工")}
    assert body["progress"]["skipped"] == 4
    (event,) = _events(session, "round.cancel")
    assert event.data == {"reason": "台风停工", "visits_skipped": 4}
    again = _error(as_leader.post(f"/api/v1/rounds/{world.round.id}/cancel", json={"reason": "again"}), 409,
                   "round.closed")
    assert again["details"] == {"status": "cancelled"}
    _error(as_leader.put(f"/api/v1/rounds/{world.round.id}/team",
                         json={"user_ids": [world.leader.id, world.partner.id], "reason": "x"}), 409, "round.closed")


# ---------------------------------------------------------------------------------------------
# Visits: unreachable or skipped


def test_team_member_marks_a_visit_unreachable_once(world, as_inspector, session):
    visit_id = session.get(Round, world.round.id).visits[0].id
    response = as_inspector.patch(f"/api/v1/visits/{visit_id}",
                                  json={"status": "unreachable", "reason": "店铺已关门，电话无人接听"})
    assert response.status_code == 200, response.json
    assert response.json["status"] == "unreachable" and response.json["reason"] == "店铺已关门，电话无人接听"
    again = _error(as_inspector.patch(f"/api/v1/visits/{visit_id}", json={"status": "skipped", "reason": "x"}),
                   409, "visit.closed")
    assert again["details"] == {"status": "unreachable"}
    (event,) = _events(session, "visit.unreachable")
    assert event.actor_id == world.inspector.id and event.subject_id == str(visit_id)
    progress = as_inspector.get(f"/api/v1/rounds/{world.round.id}").json["progress"]
    assert (progress["pending"], progress["unreachable"]) == (3, 1)


def test_leader_skips_a_visit_with_a_reason(world, as_leader, session):
    visit_id = session.get(Round, world.round.id).visits[1].id
    _error(as_leader.patch(f"/api/v1/visits/{visit_id}", json={"status": "skipped"}), 422, "validation")
    _error(as_leader.patch(f"/api/v1/visits/{visit_id}", json={"status": "inspected", "reason": "x"}), 422,
           "validation")
    response = as_leader.patch(f"/api/v1/visits/{visit_id}", json={"status": "skipped", "reason": "已注销"})
    assert response.status_code == 200 and response.json["status"] == "skipped"
    assert [e.subject_id for e in _events(session, "visit.skip")] == [str(visit_id)]
    assert session.get(Visit, visit_id).skip_reason == "已注销"


def test_inspector_of_another_squad_cannot_mark_a_visit(world, as_stranger, session):
    visit_id = session.get(Round, world.round.id).visits[0].id
    _error(as_stranger.patch(f"/api/v1/visits/{visit_id}", json={"status": "skipped", "reason": "x"}), 404,
           "not_found")
    _error(as_stranger.patch("/api/v1/visits/999999", json={"status": "skipped", "reason": "x"}), 404, "not_found")


def test_rounds_appear_in_the_api_document(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"/api/v1/rounds", "/api/v1/rounds/{round_id}", "/api/v1/rounds/{round_id}/team",
            "/api/v1/rounds/{round_id}/cancel", "/api/v1/visits/{visit_id}"} <= set(paths)
