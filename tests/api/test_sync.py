"""POST /sync: one result per record, in order; each record its own unit; acknowledged means committed."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields
from sqlalchemy import func, select

from lianduinspect.db import db
from lianduinspect.models import Inspection, InspectionConflict
from lianduinspect.schemas import inspections as wire

from ..inspection_bodies import body, loaded_visits, new_uuid, sha


pytestmark = pytest.mark.usefixtures("fixed_clock")


@pytest.fixture
def visits(app, world):
    with app.app_context():
        return loaded_visits(db.session, world.round, world.other_round)


def _count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def _sync(client, entries):
    return client.post("/api/v1/sync", json={"inspections": entries})


def test_batch_answers_one_result_per_record_in_order_and_a_bad_record_stops_nothing(app, world, visits,
                                                                                      as_inspector, now):
    ours, theirs = visits[:4], visits[4:]
    first, second = new_uuid(), new_uuid()
    good = body(world, ours[0], now=now, fail=(0,))
    entries = [
        {"uuid": first, "body": good},
        {"uuid": new_uuid(), "body": body(world, ours[1], now=now, inspector_ids=[world.inspector.id])},
        {"uuid": first, "body": good},
        {"uuid": first, "body": {**good, "notes": "另一份"}},
        {"uuid": "not-a-uuid", "body": good},
        {"uuid": new_uuid(), "body": body(world, theirs[0], now=now)},
        {"uuid": new_uuid(), "body": ["not", "an", "object"]},
        {"uuid": second, "body": body(world, ours[2], now=now, new_field_from_a_newer_app=1)},
    ]
    response = _sync(as_inspector, entries)
    assert response.status_code == 200
    results = response.json["results"]
    assert [r["status"] for r in results] == ["created", "invalid", "exists", "conflict", "invalid", "forbidden",
                                              "invalid", "created"]
    assert [r["uuid"] for r in results][:4] == [first, entries[1]["uuid"], first, first]
    assert results[0]["record"]["id"] == results[2]["record"]["id"]
    assert results[0]["record"]["evidence"]["missing"] == [sha(good["results"][0]["item_id"]),
                                                          sha(f"scene {ours[0].id}")]
    assert results[1]["error"]["code"] == "validation" and "inspector_ids" in results[1]["error"]["details"]
    assert results[3]["error"]["code"] == "inspection.conflict"
    assert results[3]["error"]["details"]["stored"]["uuid"] == first
    assert results[5]["error"]["code"] == "not_found"
    assert all("record" not in r for r in results if r["status"] not in ("created", "exists"))
    # Acknowledged means committed: the records are there for anyone who reads next.
    assert _count(app, Inspection) == 2 and _count(app, InspectionConflict) == 1
    assert as_inspector.get(f"/api/v1/inspections/{second}").status_code == 200


def test_replaying_a_batch_answers_exists_for_every_record_and_stores_nothing(app, world, visits, as_inspector, now):
    entries = [{"uuid": new_uuid(), "body": body(world, v, now=now)} for v in visits[:4]]
    assert [r["status"] for r in _sync(as_inspector, entries).json["results"]] == ["created"] * 4
    again = _sync(as_inspector, entries).json["results"]
    assert [r["status"] for r in again] == ["exists"] * 4
    assert _count(app, Inspection) == 4


def test_records_of_one_batch_may_depend_on_each_other(app, world, visits, as_inspector, now):
    first, correction = new_uuid(), new_uuid()
    entries = [{"uuid": first, "body": body(world, visits[0], now=now)},
               {"uuid": correction, "body": body(world, visits[0], now=now, supersedes=first, notes="更正")}]
    results = _sync(as_inspector, entries).json["results"]
    assert [r["status"] for r in results] == ["created", "created"]
    assert results[1]["record"]["revision"] == 2 and results[1]["record"]["supersedes"] == first
    assert as_inspector.get(f"/api/v1/inspections/{first}").json["status"] == "superseded"


def test_stranger_replaying_anothers_uuid_learns_nothing(app, world, visits, as_inspector, as_stranger, now):
    key = new_uuid()
    data = body(world, visits[0], now=now)
    assert _sync(as_inspector, [{"uuid": key, "body": data}]).json["results"][0]["status"] == "created"
    result = _sync(as_stranger, [{"uuid": key, "body": data}]).json["results"][0]
    assert result["status"] == "forbidden" and "record" not in result


@pytest.mark.parametrize("count", [0, 201])
def test_batch_of_none_or_more_than_200_is_refused(app, world, visits, as_inspector, now, count):
    entries = [{"uuid": new_uuid(), "body": {}} for _ in range(count)]
    response = _sync(as_inspector, entries)
    assert response.status_code == 422
    assert "inspections" in response.json["error"]["details"]


# ---- the ingest schema's fast path loads exactly what marshmallow loads -------------------------------

_SHA = "0123456789abcdef" * 4
_junk = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=3), st.lists(st.integers(), max_size=1))
_number = st.one_of(st.none(), st.booleans(), st.integers(-300, 300), st.integers(10**300, 10**310),
                    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["28.4", "x"]))
_time = st.one_of(st.none(), st.integers(), st.sampled_from([
    "2023-04-10T09:00:00+08:00", "2023-04-10T01:00:00Z", "2023-04-10T09:00:00.123+08:00", "2023-04-10T09:00:00",
    "2023-04-10", "2023-04-10 09:00+08:00", "20230410T090000+0800", "yesterday", ""]))


_photo = st.one_of(_junk, st.fixed_dictionaries(
    {"sha256": st.one_of(st.just(_SHA), st.sampled_from([_SHA.upper(), _SHA[:-1], ""]), _junk)},
    optional={"captured_at": _time, "lat": _number, "lon": _number, "accuracy_m": _number, "extra": _junk}))
_photos = st.one_of(_junk, st.lists(_photo, max_size=3))
_result = st.one_of(_junk, st.fixed_dictionaries(
    {"item_id": st.one_of(st.integers(-1, 1000), _junk), "result": st.one_of(st.sampled_from(["pass", "fail", "na"]),
                                                                               _junk)},
    optional={"note": st.one_of(st.none(), st.text(max_size=4), st.just("长" * 2001), _junk), "photos": _photos,
              "extra": _junk}))


class _Photos(Schema):
    value = fields.List(fields.Nested(wire.PhotoInSchema))


class _Results(Schema):
    value = fields.List(fields.Nested(wire.ResultInSchema))


def _slow(schema, value):
    try:
        return schema.load({"value": value})["value"]
    except ValidationError:
        return ValidationError


@settings(max_examples=400, deadline=None)
@given(st.lists(_photo, max_size=3))
def test_fast_photo_loading_agrees_with_marshmallow(photos):
    fast = wire._fast_photos(photos, wire.MAX_ITEM_PHOTOS)
    if fast is not None:
        assert fast == _slow(_Photos(), photos)


@settings(max_examples=400, deadline=None)
@given(st.lists(_result, max_size=3))
def test_fast_result_loading_agrees_with_marshmallow(results):
    fast = wire._fast_results(results)
    if fast is not None:
        assert fast == _slow(_Results(), results)


def test_fast_path_takes_the_phones_own_output(world, app, visits, now):
    data = body(world, visits[0], now=now, fail=(0, 1))
    assert wire._fast_results(data["results"]) is not None
    assert wire._fast_photos(data["scene_photos"], wire.MAX_SCENE_PHOTOS) is not None


_VALID = {"visit_id": 3, "supersedes": None, "inspector_ids": [1, 2], "started_at": "2023-04-10T09:00:00+08:00",
          "finished_at": "2023-04-10T09:30:00+08:00", "location": {"lat": 28.45, "lon": 119.92, "accuracy_m": 8.0},
          "results": [{"item_id": 1, "result": "pass", "note": None, "photos": []}], "scene_photos": [],
          "outcome": "pass", "notes": None, "late_reason": None, "signature_sha256": None}
_top_value = st.one_of(_junk, _time, _number, st.sampled_from([
    "pass", "rectify", "4c1d5bd6-4a8f-4f3e-9a51-1f6f8d2b2a10", "{4c1d5bd6-4a8f-4f3e-9a51-1f6f8d2b2a10}", _SHA,
    "x" * 4001]), st.lists(st.one_of(st.integers(0, 3), st.booleans()), max_size=11), st.lists(_result, max_size=2),
    st.fixed_dictionaries({}, optional={"lat": _number, "lon": _number, "accuracy_m": _number, "alt": _junk}))


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(_VALID) + ["extra"]), _top_value, max_size=4),
       st.lists(st.sampled_from(sorted(_VALID)), max_size=2))
def test_fast_body_loading_agrees_with_marshmallow(changes, dropped):
    data = {k: v for k, v in {**_VALID, **changes}.items() if k not in dropped}
    fast = wire._fast_body(data)
    try:
        slow = wire.InspectionInSchema().load(data)
        slow.pop("wire_digest")
    except ValidationError:
        slow = ValidationError
    if fast is not None:
        assert fast == slow
    if not changes and not dropped:
        assert fast is not None  # clean input takes the fast path
