"""Capture rules with literals: digests, replay decisions, deadlines, the two-officer rule, outcomes."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from lianduinspect.rules import capture

NOW = datetime(2023, 4, 10, 2, 0, tzinfo=timezone.utc)
CST = timezone(timedelta(hours=8))
ITEMS = {1: capture.Item(1, "high", True), 2: capture.Item(2, "low", False)}
OFFICERS = {7: capture.Officer(7, True, "33110200007"), 8: capture.Officer(8, True, "33110200008"),
            9: capture.Officer(9, True, None), 10: capture.Officer(10, False, "33110200010")}


def _values(**kw):
    values = {"visit_id": 3, "supersedes": None, "inspector_ids": [7, 8],
              "started_at": datetime(2023, 4, 10, 9, 0, tzinfo=CST), "finished_at": datetime(2023, 4, 10, 9, 30, tzinfo=CST),
              "location": None, "results": [{"item_id": 1, "result": "pass", "note": None, "photos": []},
                                            {"item_id": 2, "result": "pass", "note": None, "photos": []}],
              "scene_photos": [], "outcome": "pass", "notes": None, "late_reason": None, "signature_sha256": None}
    values.update(kw)
    return values


def _fail(item_id, photos=()):
    return {"item_id": item_id, "result": "fail", "note": "x",
            "photos": [{"sha256": s, "captured_at": None, "lat": None, "lon": None, "accuracy_m": None} for s in photos]}


def test_body_digest_ignores_time_zone_result_order_and_inspector_order():
    a = _values()
    b = _values(started_at=a["started_at"].astimezone(timezone.utc), inspector_ids=[8, 7],
                results=list(reversed(a["results"])))
    assert capture.body_digest(a) == capture.body_digest(b)
    assert capture.body_digest(a) != capture.body_digest(_values(notes="changed"))


def test_wire_digest_of_a_body_without_canonical_form_is_none():
    assert capture.wire_digest({"lat": float("nan")}) is None
    assert capture.wire_digest({"b": 1, "a": 2}) == capture.wire_digest({"a": 2, "b": 1})


@pytest.mark.parametrize("stored_status,same,decision", [
    ("submitted", True, "exists"), ("approved", True, "exists"), ("submitted", False, "conflict"),
    ("superseded", False, "conflict"), ("approved", False, "locked"), ("rejected", False, "locked"),
    ("needs_evidence", False, "locked"),
])
def test_replay_decision(stored_status, same, decision):
    assert capture.replay_decision("d1", stored_status, "d1" if same else "d2") == decision


@pytest.mark.parametrize("severity,days", [("high", 7), ("medium", 15), ("low", 30)])
def test_rectification_deadline_by_severity(severity, days):
    assert capture.rectification_deadline(NOW, severity) == NOW + timedelta(days=days)


@pytest.mark.parametrize("ids,fragment", [
    ([7], "At least two"), ([7, 7], "listed twice"), ([7, 9], "certificate"), ([7, 10], "disabled"),
    ([7, 99], "No such user"),
])
def test_two_officer_rule(ids, fragment):
    assert any(fragment in m for m in capture.officer_errors(ids, OFFICERS))


def test_two_certified_active_officers_pass():
    assert capture.officer_errors([7, 8], OFFICERS) == []


def test_valid_body_has_no_errors():
    assert capture.field_errors(_values(), checklist=ITEMS, officers=OFFICERS, now=NOW) == {}


def test_failed_item_needing_a_photo_without_one_is_an_error_at_its_index():
    errors = capture.field_errors(_values(results=[_fail(1), _fail(2)], outcome="rectify"), checklist=ITEMS,
                                  officers=OFFICERS, now=NOW)
    assert errors == {"results": {0: {"photos": ["A failed item needs at least one photo."]}}}


@pytest.mark.parametrize("results,outcome,ok", [
    ([_fail(1, ["a" * 64]), {"item_id": 2, "result": "pass"}], "pass", False),
    ([{"item_id": 1, "result": "pass"}, {"item_id": 2, "result": "na"}], "rectify", False),
    ([_fail(1, ["a" * 64]), {"item_id": 2, "result": "pass"}], "rectify", True),
    ([_fail(1, ["a" * 64]), {"item_id": 2, "result": "pass"}], "refer", True),
    ([{"item_id": 1, "result": "pass"}, {"item_id": 2, "result": "pass"}], "refer", True),
])
def test_outcome_agrees_with_results(results, outcome, ok):
    errors = capture.field_errors(_values(results=results, outcome=outcome), checklist=ITEMS, officers=OFFICERS,
                                  now=NOW)
    assert ("outcome" not in errors) is ok


def test_missing_repeated_and_foreign_items_are_named():
    results = [{"item_id": 1, "result": "pass"}, {"item_id": 1, "result": "pass"}, {"item_id": 5, "result": "na"}]
    messages = capture.field_errors(_values(results=results), checklist=ITEMS, officers=OFFICERS,
                                    now=NOW)["results"]["_schema"]
    assert messages == ["Items [1] have more than one result.", "Items [2] of this visit's checklist have no result.",
                        "Items [5] are not on this visit's checklist."]


def test_same_photo_twice_in_a_record_is_an_error():
    results = [_fail(1, ["a" * 64]), {"item_id": 2, "result": "pass"}]
    scene = [{"sha256": "a" * 64}]
    errors = capture.field_errors(_values(results=results, outcome="rectify", scene_photos=scene), checklist=ITEMS,
                                  officers=OFFICERS, now=NOW)
    assert "scene_photos" in errors


@pytest.mark.parametrize("finish,ok", [(NOW + timedelta(minutes=10), True), (NOW + timedelta(minutes=10, seconds=1), False),
                                       (NOW - timedelta(days=3), True)])
def test_finish_may_run_ahead_of_the_server_clock_by_ten_minutes_at_most(finish, ok):
    errors = capture.field_errors(_values(started_at=finish - timedelta(hours=1), finished_at=finish),
                                  checklist=ITEMS, officers=OFFICERS, now=NOW)
    assert ("finished_at" not in errors) is ok


def test_finish_before_start_is_an_error():
    errors = capture.field_errors(_values(finished_at=NOW - timedelta(days=1), started_at=NOW - timedelta(hours=1)),
                                  checklist=ITEMS, officers=OFFICERS, now=NOW)
    assert errors["finished_at"] == ["Finishes before it starts."]
