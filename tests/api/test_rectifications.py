"""Rectification API: the scoped list, the leader's deadline change, closing with an after photo."""
from __future__ import annotations

from datetime import timedelta

import pytest

from lianduinspect.db import db
from lianduinspect.models import AuditEvent, Rectification

from ..factories_review import (evidence_from_bytes, items_of, jpeg, make_inspection, make_rectification,
                                scene_image, visits_of)


@pytest.fixture
def rect(app, session, world, now):
    """An open rectification of the world's squad, with a real before photo."""
    app.config["FIXED_NOW"] = now
    visit = visits_of(session, world.round)[0]
    item = items_of(session, visit)[0]
    before = evidence_from_bytes(session, jpeg(scene_image(41)), uploaded_by=world.inspector)
    after = evidence_from_bytes(session, jpeg(scene_image(42)), uploaded_by=world.inspector)
    copy = evidence_from_bytes(session, jpeg(scene_image(41).resize((320, 240)), 60), uploaded_by=world.inspector)
    inspection = make_inspection(session, visit, [world.inspector, world.partner], outcome="rectify",
                                 results={item.id: ("fail", "油烟净化器未清洗")},
                                 photos=[{"sha256": before.sha256, "item_id": item.id}])
    rect = make_rectification(session, inspection, item.id, deadline=now + timedelta(days=3),
                              before_sha256=before.sha256)
    overdue = make_rectification(session, inspection, items_of(session, visit)[1].id,
                                 deadline=now - timedelta(days=10))
    session.commit()
    return {"id": rect.id, "overdue": overdue.id, "before": before.sha256, "after": after.sha256,
            "copy": copy.sha256}


def test_list_shows_item_target_deadline_and_overdue(as_inspector, rect):
    response = as_inspector.get("/api/v1/rectifications")
    assert response.status_code == 200
    items = {r["id"]: r for r in response.json["items"]}
    assert set(items) == {rect["id"], rect["overdue"]}
    first = items[rect["id"]]
    assert first["item"]["legal_basis"] and first["target"]["name"]
    assert (first["status"], first["overdue"], first["lookback"]) == ("open", False, False)
    assert items[rect["overdue"]]["overdue"] is True
    only = as_inspector.get("/api/v1/rectifications?overdue=true").json["items"]
    assert [r["id"] for r in only] == [rect["overdue"]]


def test_other_squads_see_none_of_them(as_stranger, as_supervisor, rect):
    assert as_stranger.get("/api/v1/rectifications").json["items"] == []
    assert len(as_supervisor.get("/api/v1/rectifications").json["items"]) == 2


def test_leader_moves_the_deadline_with_a_reason(app, as_leader, rect, now):
    new = (now + timedelta(days=30)).isoformat()
    response = as_leader.patch(f"/api/v1/rectifications/{rect['id']}", json={"deadline": new, "reason": "企业申请延期"})
    assert response.status_code == 200
    assert response.json["deadline"] == new
    with app.app_context():
        event = db.session.query(AuditEvent).filter_by(action="rectification.deadline").one()
        assert event.data["reason"] == "企业申请延期"


@pytest.mark.parametrize("body,field", [
    ({"deadline": "2023-05-01T00:00:00+00:00"}, "reason"),
    ({"deadline": "2023-05-01T00:00:00", "reason": "延期"}, "deadline"),  # no zone: ambiguous
    ({"deadline": "2023-04-01T00:00:00+00:00", "reason": "延期"}, "deadline"),  # in the past
])
def test_bad_deadline_changes_are_422(as_leader, rect, body, field):
    response = as_leader.patch(f"/api/v1/rectifications/{rect['id']}", json=body)
    assert response.status_code == 422 and field in response.json["error"]["details"]


def test_inspector_cannot_move_a_deadline(as_inspector, rect):
    response = as_inspector.patch(f"/api/v1/rectifications/{rect['id']}",
                                  json={"deadline": "2023-06-01T00:00:00+00:00", "reason": "x"})
    assert response.status_code == 403


def test_closing_with_a_new_after_photo(as_inspector, rect, now):
    response = as_inspector.post(f"/api/v1/rectifications/{rect['id']}/close", json={"after_sha256": rect["after"]})
    assert response.status_code == 200
    assert (response.json["status"], response.json["after_sha256"]) == ("closed", rect["after"])
    again = as_inspector.post(f"/api/v1/rectifications/{rect['id']}/close", json={"after_sha256": rect["after"]})
    assert again.status_code == 409 and again.json["error"]["code"] == "rectification.state"


@pytest.mark.parametrize("which", ["before", "copy"])
def test_closing_with_the_before_photo_again_is_422(app, as_inspector, rect, which):
    response = as_inspector.post(f"/api/v1/rectifications/{rect['id']}/close", json={"after_sha256": rect[which]})
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "rectification.same_photo" and error["details"]["distance"] <= error["details"]["limit"]
    with app.app_context():
        assert db.session.get(Rectification, rect["id"]).status == "open"


def test_closing_with_a_photo_never_uploaded_is_422(as_inspector, rect):
    response = as_inspector.post(f"/api/v1/rectifications/{rect['id']}/close", json={"after_sha256": "0" * 64})
    assert response.status_code == 422 and "after_sha256" in response.json["error"]["details"]


def test_other_squad_gets_404_before_the_body_is_read(as_stranger, rect):
    response = as_stranger.post(f"/api/v1/rectifications/{rect['id']}/close", json={})
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
