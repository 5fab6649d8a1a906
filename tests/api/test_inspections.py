"""PUT /inspections/<uuid>: idempotent by client UUID, conflicts kept, reviewed revisions locked; reads scoped."""
from __future__ import annotations

import logging
import threading

import pytest
from sqlalchemy import func, select

from lianduinspect.db import db
from lianduinspect.models import Inspection, InspectionConflict, ItemResult, Visit

from ..conftest import ApiClient
from ..inspection_bodies import body, loaded_visits, new_uuid, sha, visits_of

RECORD_KEYS = {"id", "uuid", "visit_id", "revision", "supersedes", "status", "outcome", "started_at", "finished_at",
               "location", "inspectors", "results", "scene_photos", "notes", "late_reason", "signature_sha256",
               "evidence", "evidence_complete", "received_at"}


pytestmark = pytest.mark.usefixtures("fixed_clock")


@pytest.fixture
def visits(app, world):
    with app.app_context():
        return loaded_visits(db.session, world.round)


def _state(app):
    """Return what is stored: inspections by uuid (digest, status, revision), conflicts, result rows."""
    with app.app_context():
        rows = db.session.execute(select(Inspection.uuid, Inspection.body_digest, Inspection.status,
                                         Inspection.revision)).all()
        return ({r.uuid: (r.body_digest, r.status, r.revision) for r in rows},
                db.session.scalar(select(func.count()).select_from(InspectionConflict)),
                db.session.scalar(select(func.count()).select_from(ItemResult)))


def _set_status(app, key, status):
    with app.app_context():
        db.session.scalars(select(Inspection).where(Inspection.uuid == key)).one().status = status
        db.session.commit()


def _put(client, key, data):
    return client.put(f"/api/v1/inspections/{key}", json=data)


# Each case: what is stored first, then the request under test, and what must come of it.
CASES = {
    "new": dict(setup=None, send="original", same_uuid=True, status=201, code=None),
    "replay": dict(setup="stored", send="original", same_uuid=True, status=200, code=None),
    "conflict": dict(setup="stored", send="changed", same_uuid=True, status=409, code="inspection.conflict"),
    "second_uuid_without_supersedes": dict(setup="stored", send="original", same_uuid=False, status=409,
                                           code="inspection.conflict"),
    "revision": dict(setup="stored", send="correction", same_uuid=False, status=201, code=None),
    "locked": dict(setup="approved", send="changed", same_uuid=True, status=409, code="inspection.locked"),
    "locked_correction": dict(setup="approved", send="correction", same_uuid=False, status=409,
                              code="inspection.locked"),
    "reviewed_replay": dict(setup="approved", send="original", same_uuid=True, status=200, code=None),
    "invalid": dict(setup=None, send="invalid", same_uuid=True, status=422, code="validation"),
    "invalid_after_stored": dict(setup="stored", send="invalid", same_uuid=False, status=422, code="validation"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_idempotency_table(app, world, visits, as_inspector, now, case):
    spec = CASES[case]
    visit = visits[0]
    key = new_uuid()
    original = body(world, visit, now=now)
    if spec["setup"]:
        assert _put(as_inspector, key, original).status_code == 201
        if spec["setup"] == "approved":
            _set_status(app, key, "approved")
    before, conflicts_before, results_before = _state(app)
    sent = {"original": original,
            "changed": {**original, "notes": "改过的备注"},
            "correction": {**original, "supersedes": key, "notes": "更正"},
            "invalid": {**original, "inspector_ids": [world.inspector.id]}}[spec["send"]]
    target = key if spec["same_uuid"] else new_uuid()

    response = _put(as_inspector, target, sent)

    assert response.status_code == spec["status"], response.json
    after, conflicts_after, results_after = _state(app)
    if spec["code"]:
        assert set(response.json) == {"error"}
        assert response.json["error"]["code"] == spec["code"]
    else:
        assert set(response.json) == RECORD_KEYS
        assert response.json["uuid"] == target
    if case == "new":
        assert list(after) == [key] and response.json["revision"] == 1
    elif case in ("replay", "reviewed_replay"):
        assert after == before
        assert response.json["status"] == ("approved" if case == "reviewed_replay" else "submitted")
    elif case in ("conflict", "second_uuid_without_supersedes", "locked"):
        assert after == before  # the stored record is unchanged
        assert conflicts_after == conflicts_before + 1  # the conflicting body is kept for review
        assert response.json["error"]["details"]["stored"]["uuid"] == key
        assert response.json["error"]["details"]["kept"] is True  # the phone may let it go
        assert _put(as_inspector, target, sent).status_code == 409
        assert _state(app)[1] == conflicts_after  # a replayed conflict does not pile up
    elif case == "revision":
        assert response.json["revision"] == 2 and response.json["supersedes"] == key
        assert after[key][1] == "superseded"
    elif case == "locked_correction":
        assert after == before and response.json["error"]["details"]["revision"] == 1
        assert conflicts_after == conflicts_before and "kept" not in response.json["error"]["details"]
    elif case.startswith("invalid"):
        assert (after, conflicts_after, results_after) == (before, conflicts_before, results_before)
        assert "inspector_ids" in response.json["error"]["details"]


def test_record_shape_states_evidence_expected_present_and_missing(app, world, visits, as_inspector, now):
    key = new_uuid()
    response = _put(as_inspector, key, body(world, visits[0], now=now, fail=(1,), note="灭火器过期"))
    assert response.status_code == 201
    record = response.json
    failed = next(r for r in record["results"] if r["result"] == "fail")
    assert failed["note"] == "灭火器过期"
    assert failed["photos"][0]["sha256"] == sha(failed["item_id"])
    assert failed["photos"][0]["captured_at"].endswith("+00:00")
    assert record["started_at"].endswith("+00:00")
    assert record["evidence"]["expected"] == [sha(failed["item_id"]), sha(f"scene {visits[0].id}")]
    assert record["evidence"]["present"] == [] and record["evidence_complete"] is False
    assert record["evidence"]["missing"] == record["evidence"]["expected"]
    assert [i["certificate_no"] for i in record["inspectors"]] == [world.inspector.certificate_no,
                                                                   world.partner.certificate_no]
    assert record["location"] == {"lat": 28.4502, "lon": 119.9201, "accuracy_m": 8.0}
    assert as_inspector.get(f"/api/v1/inspections/{key}").json == record


def test_same_body_with_times_in_another_offset_is_a_replay(app, world, visits, as_inspector, now):
    key = new_uuid()
    original = body(world, visits[0], now=now)
    assert _put(as_inspector, key, original).status_code == 201
    from datetime import datetime, timedelta, timezone
    beijing = timezone(timedelta(hours=8))
    shifted = {**original, "started_at": datetime.fromisoformat(original["started_at"]).astimezone(beijing).isoformat(),
               "results": list(reversed(original["results"]))}
    assert _put(as_inspector, key, shifted).status_code == 200


def test_unknown_fields_are_ignored_and_logged(app, world, visits, as_inspector, now, caplog):
    data = body(world, visits[0], now=now, app_version="0.9-old")
    data["results"][0]["weather"] = "rain"
    with caplog.at_level(logging.WARNING, logger="lianduinspect.sync"):
        response = _put(as_inspector, new_uuid(), data)
    assert response.status_code == 201
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "app_version" in logged and "weather" in logged


def test_malformed_uuid_is_422(as_inspector, world, visits, now):
    response = _put(as_inspector, "12345", body(world, visits[0], now=now))
    assert response.status_code == 422
    assert "uuid" in response.json["error"]["details"]


def test_uuid_is_stored_in_canonical_form(as_inspector, world, visits, now):
    key = new_uuid()
    response = _put(as_inspector, key.upper(), body(world, visits[0], now=now))
    assert response.status_code == 201 and response.json["uuid"] == key


def test_finish_in_the_future_is_refused(as_inspector, world, visits, now):
    from datetime import timedelta
    data = body(world, visits[0], now=now + timedelta(minutes=16))  # finishes 11 minutes ahead
    response = _put(as_inspector, new_uuid(), data)
    assert response.status_code == 422
    assert "finished_at" in response.json["error"]["details"]


def test_failed_item_without_photo_is_refused(app, as_inspector, world, visits, now):
    response = _put(as_inspector, new_uuid(), body(world, visits[0], now=now, fail=(2,), photos_on_fail=False))
    assert response.status_code == 422
    assert response.json["error"]["details"]["results"]["2"]["photos"]
    assert _state(app)[0] == {}


@pytest.mark.parametrize("outcome,fail", [("pass", (0,)), ("rectify", ())])
def test_outcome_must_agree_with_results(as_inspector, world, visits, now, outcome, fail):
    response = _put(as_inspector, new_uuid(), body(world, visits[0], now=now, fail=fail, outcome=outcome))
    assert response.status_code == 422
    assert "outcome" in response.json["error"]["details"]


def test_unknown_visit_is_404(app, as_inspector, world, visits, now):
    response = _put(as_inspector, new_uuid(), body(world, visits[0], now=now, visit_id=visits[-1].id + 10_000))
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_inspector_gets_404_for_other_squads_visit(app, as_inspector, world, now):
    with app.app_context():
        other = visits_of(db.session, world.other_round)[0]
        data = body(world, other, now=now)
    response = _put(as_inspector, new_uuid(), data)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert _state(app)[0] == {}


@pytest.mark.parametrize("persona,status", [("inspector", 200), ("leader", 200), ("supervisor", 200),
                                            ("admin", 200), ("stranger", 404)])
def test_inspection_is_read_by_own_squad_and_oversight_only(app, personas, world, visits, now, persona, status):
    key = new_uuid()
    assert _put(personas["inspector"], key, body(world, visits[0], now=now)).status_code == 201
    response = personas[persona].get(f"/api/v1/inspections/{key}")
    assert response.status_code == status
    listed = personas[persona].get(f"/api/v1/inspections?visit_id={visits[0].id}").json["items"]
    assert [r["uuid"] for r in listed] == ([key] if status == 200 else [])


def test_inspections_list_filters_by_round_and_pages(app, as_inspector, as_leader, world, visits, now):
    keys = []
    for visit in visits[:3]:
        keys.append(new_uuid())
        assert _put(as_inspector, keys[-1], body(world, visit, now=now)).status_code == 201
    first = as_leader.get(f"/api/v1/inspections?round_id={world.round.id}&limit=2").json
    second = as_leader.get(f"/api/v1/inspections?round_id={world.round.id}&limit=2&cursor={first['next_cursor']}").json
    assert [r["uuid"] for r in first["items"] + second["items"]] == keys
    assert second["next_cursor"] is None
    assert as_leader.get(f"/api/v1/inspections?round_id={world.other_round.id}").json["items"] == []


def test_twenty_parallel_identical_puts_store_exactly_one_row(app, world, visits, now):
    key = new_uuid()
    data = body(world, visits[0], now=now, fail=(0,))
    clients = []
    for _ in range(20):
        c = ApiClient(app)
        assert c.login(world.inspector.username).status_code == 200
        clients.append(c)
    barrier = threading.Barrier(len(clients))
    answers: list = [None] * len(clients)

    def send(n):
        barrier.wait()
        response = _put(clients[n], key, data)
        answers[n] = (response.status_code, response.json.get("id"), response.json)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(a[0] for a in answers)
    assert statuses == [200] * 19 + [201], [a[2] for a in answers if a[0] not in (200, 201)]
    assert len({a[1] for a in answers}) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Inspection)) == 1
        assert db.session.scalar(select(func.count()).select_from(ItemResult)) == len(data["results"])
        assert db.session.get(Visit, visits[0].id).status == "inspected"


def test_record_whose_photos_arrived_first_has_its_flags_at_once(app, world, visits, as_inspector, as_supervisor, now):
    """Photos uploaded before their record: the flags are computed when the record arrives, so the review
    queue shows them (and its flagged filter finds the record) before anyone opens it."""
    from ..factories_review import bare_facts, make_evidence

    visit = visits[0]
    data = body(world, visit, now=now, fail=(0,), note="灭火器过期")
    with app.app_context():
        for photo in [*data["results"][0]["photos"], *data["scene_photos"]]:
            make_evidence(db.session, photo["sha256"], uploaded_by=world.inspector, facts=bare_facts())
        db.session.commit()
    response = _put(as_inspector, new_uuid(), data)
    assert response.status_code == 201 and response.json["evidence_complete"] is True
    with app.app_context():
        flags = db.session.get(Inspection, response.json["id"]).flags
    assert flags is not None and {f["code"] for f in flags} == {"no_camera_metadata"}
    queued = as_supervisor.get("/api/v1/reviews/queue?flagged=true").json["items"]
    assert [(i["id"], i["flags_count"]) for i in queued] == [(response.json["id"], 2)]
