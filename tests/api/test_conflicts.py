"""Kept records (冲突记录): what the sync set aside is listed for supervisors, compared, and resolved once."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from lianduinspect.db import db
from lianduinspect.models import AuditEvent, Inspection, InspectionConflict

from ..inspection_bodies import body, checklist, loaded_visits, new_uuid

pytestmark = pytest.mark.usefixtures("fixed_clock")


@pytest.fixture
def visits(app, world):
    with app.app_context():
        return loaded_visits(db.session, world.round)


def _error(response, status, code):
    assert response.status_code == status, response.json
    assert set(response.json) == {"error"} and response.json["error"]["code"] == code
    return response.json["error"]


def _kept_same_uuid(as_inspector, world, visit, now):
    """Store a record, then send other content under its UUID: the second body is kept aside."""
    key = new_uuid()
    original = body(world, visit, now=now)
    assert as_inspector.put(f"/api/v1/inspections/{key}", json=original).status_code == 201
    changed = {**original, "notes": "另一台设备上的不同内容"}
    answer = as_inspector.put(f"/api/v1/inspections/{key}", json=changed)
    assert answer.status_code == 409 and answer.json["error"]["details"]["kept"] is True
    return key


def test_supervisor_sees_a_kept_record_with_what_it_changes(app, world, visits, as_inspector, as_supervisor, now):
    key = _kept_same_uuid(as_inspector, world, visits[0], now)

    listed = as_supervisor.get("/api/v1/conflicts")
    assert listed.status_code == 200, listed.json
    [item] = listed.json["items"]
    assert item["uuid"] == key and item["reason"] == "same_uuid" and item["state"] == "open"
    assert item["visit_id"] == visits[0].id and item["squad"]["id"] == world.squad.id
    assert item["target"]["id"] == visits[0].target_id
    assert item["submitted_by"]["id"] == world.inspector.id
    assert item["standing"]["uuid"] == key and item["standing"]["status"] == "submitted"

    record = as_supervisor.get(f"/api/v1/conflicts/{item['id']}").json
    assert record["body"]["notes"] == "另一台设备上的不同内容"
    assert record["diff"]["fields"] == {"notes": {"from": "现场检查", "to": "另一台设备上的不同内容"}}
    assert record["diff"]["items"] == [] and record["diff"]["previous_id"] == item["standing"]["id"]


def test_second_record_for_a_visit_is_kept_with_its_item_differences(app, world, visits, as_inspector, as_supervisor,
                                                                     now):
    first = body(world, visits[0], now=now)
    assert as_inspector.put(f"/api/v1/inspections/{new_uuid()}", json=first).status_code == 201
    second = body(world, visits[0], now=now, fail=(0,), note="灭火器过期")  # no "supersedes": not a correction
    _error(as_inspector.put(f"/api/v1/inspections/{new_uuid()}", json=second), 409, "inspection.conflict")

    [item] = as_supervisor.get("/api/v1/conflicts").json["items"]
    assert item["reason"] == "visit_inspected"
    record = as_supervisor.get(f"/api/v1/conflicts/{item['id']}").json
    diff = record["diff"]
    [change] = diff["items"]
    first = checklist(visits[0])[0]
    assert record["item_labels"] == {str(first.id): f"{first.code} {first.text}"}
    assert change["result"] == {"from": "pass", "to": "fail"} and change["note"] == {"from": None, "to": "灭火器过期"}
    assert len(change["photos"]["added"]) == 1 and diff["fields"]["outcome"] == {"from": "pass", "to": "rectify"}
    with app.app_context():  # nothing stored was overwritten
        assert db.session.scalars(select(Inspection.outcome).where(Inspection.visit_id == visits[0].id)).all() == ["pass"]


def test_a_kept_record_is_resolved_once_with_a_note_and_audited(app, world, visits, as_inspector, as_supervisor,
                                                                as_admin, now):
    _kept_same_uuid(as_inspector, world, visits[0], now)
    [item] = as_supervisor.get("/api/v1/conflicts").json["items"]
    path = f"/api/v1/conflicts/{item['id']}/resolve"
    for bad in ({}, {"resolution": "   "}, {"resolution": "长" * 501}, {"resolution": 7}):
        _error(as_supervisor.post(path, json=bad), 422, "validation")
    _error(as_supervisor.post(path, data="not json", content_type="application/json"), 400, "malformed")
    assert as_supervisor.get(f"/api/v1/conflicts/{item['id']}").json["state"] == "open"

    done = as_supervisor.post(path, json={"resolution": "  已电话核实，以先到的记录为准  "})
    assert done.status_code == 200, done.json
    assert done.json["state"] == "resolved" and done.json["resolution"] == "已电话核实，以先到的记录为准"
    assert done.json["resolved_by"]["id"] == world.supervisor.id and done.json["resolved_at"]

    again = _error(as_admin.post(path, json={"resolution": "改口"}), 409, "conflict.resolved")
    assert again["details"]["resolved_at"]
    with app.app_context():
        kept = db.session.get(InspectionConflict, item["id"])
        assert kept.resolution == "已电话核实，以先到的记录为准" and kept.resolved_by_id == world.supervisor.id
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "inspection.conflict_resolve")).all()
        assert [(e.actor_id, e.data["conflict_id"], e.data["resolution"]) for e in events] == [
            (world.supervisor.id, item["id"], "已电话核实，以先到的记录为准")]
    assert as_supervisor.get("/api/v1/conflicts").json["items"] == []
    assert [i["id"] for i in as_supervisor.get("/api/v1/conflicts?state=resolved").json["items"]] == [item["id"]]
    assert [i["id"] for i in as_supervisor.get("/api/v1/conflicts?state=all").json["items"]] == [item["id"]]


def test_kept_records_filter_by_squad_and_page_newest_first(app, world, visits, as_inspector, as_supervisor, now):
    keys = [_kept_same_uuid(as_inspector, world, visit, now) for visit in visits[:3]]
    first = as_supervisor.get("/api/v1/conflicts?limit=2").json
    rest = as_supervisor.get(f"/api/v1/conflicts?limit=2&cursor={first['next_cursor']}").json
    assert [i["uuid"] for i in first["items"] + rest["items"]] == keys[::-1] and rest["next_cursor"] is None
    assert len(as_supervisor.get(f"/api/v1/conflicts?squad_id={world.squad.id}").json["items"]) == 3
    assert as_supervisor.get(f"/api/v1/conflicts?squad_id={world.other_squad.id}").json["items"] == []
    for query in ("state=closed", "limit=0", "squad_id=x", "cursor=bm9wZQ"):
        _error(as_supervisor.get(f"/api/v1/conflicts?{query}"), 422, "validation")
    _error(as_supervisor.get("/api/v1/conflicts/999999"), 404, "not_found")
