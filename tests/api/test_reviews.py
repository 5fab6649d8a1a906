"""Review API: statuses, error codes and shapes of the queue, the record, decisions, bulk approval, reports."""
from __future__ import annotations

from datetime import timedelta

import pytest

from lianduinspect.db import db
from lianduinspect.models import Inspection

from ..factories_review import STARTED, bare_facts, items_of, make_evidence, make_inspection, sha, visits_of


@pytest.fixture
def records(app, session, world, now):
    """Three submitted records of the world's round: clean, flagged, awaiting a photo."""
    app.config["FIXED_NOW"] = now
    visits = visits_of(session, world.round)
    team = [world.inspector, world.partner]
    item = items_of(session, visits[0])[0]
    clean = make_inspection(session, visits[0], team, outcome="rectify", results={item.id: ("fail", "无证经营")})
    bare = make_evidence(session, uploaded_by=world.inspector, facts=bare_facts())
    flagged = make_inspection(session, visits[1], team, photos=[{"sha256": bare.sha256, "item_id": item.id}])
    waiting = make_inspection(session, visits[2], team, photos=[{"sha256": sha()}],
                              received_at=STARTED - timedelta(days=1) + timedelta(hours=3))
    session.commit()
    return {"clean": clean.id, "flagged": flagged.id, "waiting": waiting.id, "item": item.id}


def test_queue_lists_records_with_target_squad_scene_team_and_flag_count(as_supervisor, records, world):
    response = as_supervisor.get("/api/v1/reviews/queue?limit=2")
    assert response.status_code == 200
    body = response.json
    assert set(body) == {"items", "next_cursor"} and body["next_cursor"]
    first = body["items"][0]
    assert first["id"] == records["clean"]
    assert first["target"]["name"] == world.targets[0].name
    assert first["squad"] == {"id": world.squad.id, "name": "城东中队"}
    assert [s["name"] for s in first["scenes"]] == ["餐饮服务场所"]
    assert [p["certificate_no"] for p in first["inspectors"]] == [world.inspector.certificate_no,
                                                                   world.partner.certificate_no]
    assert first["flags_count"] is None  # not computed yet
    rest = as_supervisor.get(f"/api/v1/reviews/queue?limit=2&cursor={body['next_cursor']}").json
    assert [i["id"] for i in rest["items"]] == [records["waiting"]] and rest["next_cursor"] is None


@pytest.mark.parametrize("query", ["flagged=maybe", "period=2023-13", "status=lost", "cursor=bm9wZQ", "limit=0"])
def test_bad_queue_filters_are_422(as_supervisor, records, query):
    response = as_supervisor.get(f"/api/v1/reviews/queue?{query}")
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation"


def test_record_read_computes_and_shows_flags(as_supervisor, records):
    response = as_supervisor.get(f"/api/v1/reviews/inspections/{records['flagged']}")
    assert response.status_code == 200
    record = response.json
    assert [f["code"] for f in record["flags"]] == ["no_camera_metadata"]
    assert record["photos"][0]["evidence"]["facts"]["has_camera_metadata"] is False
    assert record["photos"][0]["flags"] == record["flags"]
    assert record["diff"] is None and record["reviews"] == []
    assert record["started_at"].endswith("+00:00")
    queued = as_supervisor.get("/api/v1/reviews/queue?flagged=true").json["items"]
    assert [(i["id"], i["flags_count"]) for i in queued] == [(records["flagged"], 1)]


def test_unknown_record_is_404(as_supervisor, records):
    response = as_supervisor.get("/api/v1/reviews/inspections/987654")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_decision_is_201_with_the_review(as_supervisor, records, world):
    response = as_supervisor.post(f"/api/v1/inspections/{records['clean']}/reviews", json={
        "decision": "needs_evidence", "reason": "缺少无证经营现场照片",
        "item_comments": {str(records["item"]): "请补拍营业场所门头"}})
    assert response.status_code == 201
    body = response.json
    assert body["decision"] == "needs_evidence" and body["reviewer_id"] == world.supervisor.id
    assert body["item_comments"] == {str(records["item"]): "请补拍营业场所门头"}


def test_reviewed_revision_cannot_be_decided_again(app, as_supervisor, as_admin, records):
    url = f"/api/v1/inspections/{records['clean']}/reviews"
    assert as_supervisor.post(url, json={"decision": "approved"}).status_code == 201
    response = as_admin.post(url, json={"decision": "rejected", "reason": "改判"})
    assert response.status_code == 409
    assert response.json["error"] == {"code": "review.state", "message": response.json["error"]["message"],
                                      "details": {"status": "approved"}}
    with app.app_context():
        assert db.session.get(Inspection, records["clean"]).status == "approved"


@pytest.mark.parametrize("body,field", [
    ({"decision": "rejected"}, "reason"),
    ({"decision": "maybe"}, "decision"),
    ({"decision": "approved", "item_comments": {"abc": "x"}}, "item_comments"),
    ({"decision": "approved", "reviewer_id": 1}, "reviewer_id"),
])
def test_bad_decisions_are_422_and_change_nothing(app, as_supervisor, records, body, field):
    response = as_supervisor.post(f"/api/v1/inspections/{records['clean']}/reviews", json=body)
    assert response.status_code == 422
    assert field in response.json["error"]["details"]
    with app.app_context():
        assert db.session.get(Inspection, records["clean"]).status == "submitted"


def test_bulk_approve_reports_per_record(as_supervisor, records):
    ids = [records["clean"], records["flagged"], records["waiting"], 555555]
    response = as_supervisor.post("/api/v1/reviews/bulk-approve", json={"inspection_ids": ids})
    assert response.status_code == 200
    body = response.json
    assert (body["approved"], body["skipped"]) == (1, 3)
    assert [(r["inspection_id"], r["result"], r.get("reason")) for r in body["results"]] == [
        (records["clean"], "approved", None), (records["flagged"], "skipped", "flagged"),
        (records["waiting"], "skipped", "evidence_incomplete"), (555555, "skipped", "not_found")]


def test_bulk_approve_takes_at_most_two_hundred(as_supervisor, records):
    response = as_supervisor.post("/api/v1/reviews/bulk-approve", json={"inspection_ids": list(range(1, 202))})
    assert response.status_code == 422


def test_report_counts_only_approved_records(as_supervisor, as_leader, records):
    before = as_supervisor.get("/api/v1/reports/summary?period=2023-04").json
    assert before["approved"] == 0
    as_supervisor.post(f"/api/v1/inspections/{records['clean']}/reviews", json={"decision": "approved"})
    after = as_supervisor.get("/api/v1/reports/summary?period=2023-04").json
    assert after["approved"] == 1 and after["by_outcome"]["rectify"] == 1
    assert set(after) == {"period", "squad_id", "approved", "by_outcome", "by_scene", "by_department",
                          "rectifications"}
    assert as_leader.get("/api/v1/reports/summary").json["approved"] == 1


def test_leader_cannot_report_on_another_squad(as_leader, world, records):
    response = as_leader.get(f"/api/v1/reports/summary?squad_id={world.other_squad.id}")
    assert response.status_code == 404


def test_inspector_cannot_review_or_report(as_inspector, records):
    assert as_inspector.get("/api/v1/reviews/queue").status_code == 403
    assert as_inspector.post(f"/api/v1/inspections/{records['clean']}/reviews",
                             json={"decision": "approved"}).status_code == 403
    assert as_inspector.get("/api/v1/reports/summary").status_code == 403
