"""Reference data: admins write it, bad input is a 4xx in the one shape and writes nothing."""
from __future__ import annotations

import pytest

from lianduinspect.db import db
from lianduinspect.models import AuditEvent, Department, Scene, SceneVersion, Target, User

from ..factories import credit_code


def _count(app, model):
    with app.app_context():
        return db.session.query(model).count()


def _target_body(world, **kw):
    return {"name": "丽水老城面馆", "credit_code": credit_code(900001), "category": "restaurant",
            "area_id": world.areas[0].id, "address": "丽水市莲都区紫金街道中山街12号", "lat": 28.451,
            "lon": 119.915, "risk": "medium", **kw}


@pytest.mark.parametrize("body,code", [
    ("{not json", "malformed"),
    ("[1, 2]", "malformed"),
    ('"a string"', "malformed"),
])
def test_malformed_json_is_400_and_writes_nothing(app, as_admin, body, code):
    before = _count(app, Department)
    response = as_admin.post("/api/v1/departments", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json["error"]["code"] == code
    assert _count(app, Department) == before


def test_non_json_content_type_is_415(as_admin):
    response = as_admin.post("/api/v1/departments", data="code=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json["error"]["code"] == "unsupported_media_type"


def test_unknown_field_on_admin_endpoint_is_422(app, as_admin):
    before = _count(app, Department)
    response = as_admin.post("/api/v1/departments",
                             json={"code": "xfzf", "name": "消防", "short": "消防", "is_admin": True})
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation"
    assert "is_admin" in response.json["error"]["details"]
    assert _count(app, Department) == before


def test_wrong_types_are_field_errors(as_admin, world):
    response = as_admin.post("/api/v1/targets", json=_target_body(world, lat="north", area_id="one"))
    assert response.status_code == 422
    assert set(response.json["error"]["details"]) == {"lat", "area_id"}


@pytest.mark.parametrize("bad", [
    "91331102MA2A0XYZ1",        # 17 characters
    "91331102MA2A0XYZ1OO",      # 19 characters
    "91331102MA2A0XYI1O",       # I and O are not in the alphabet
    "91331102ma2a0xyz10",       # lower case
])
def test_invalid_credit_code_is_refused(app, as_admin, world, bad):
    before = _count(app, Target)
    response = as_admin.post("/api/v1/targets", json=_target_body(world, credit_code=bad))
    assert response.status_code == 422
    assert "credit_code" in response.json["error"]["details"]
    assert _count(app, Target) == before


def test_credit_code_with_wrong_check_character_is_refused(as_admin, world):
    good = credit_code(424242)
    from lianduinspect.rules.creditcode import ALPHABET
    wrong = good[:17] + next(c for c in ALPHABET if c != good[17])
    response = as_admin.post("/api/v1/targets", json=_target_body(world, credit_code=wrong))
    assert response.status_code == 422
    assert "校验位" in response.json["error"]["details"]["credit_code"][0]


def test_admin_registers_a_target_and_it_is_audited(app, as_admin, world):
    response = as_admin.post("/api/v1/targets", json=_target_body(world))
    assert response.status_code == 201
    assert response.json["area"]["name"] == "紫金街道"
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(action="target.create").count() == 1


def test_duplicate_credit_code_is_409(as_admin, world):
    assert as_admin.post("/api/v1/targets", json=_target_body(world)).status_code == 201
    response = as_admin.post("/api/v1/targets", json=_target_body(world, name="另一家"))
    assert response.status_code == 409
    assert response.json["error"]["details"] == {"field": "credit_code"}


def test_targets_list_paginates_with_a_cursor(as_inspector, world):
    first = as_inspector.get("/api/v1/targets?limit=4")
    assert first.status_code == 200 and len(first.json["items"]) == 4
    second = as_inspector.get(f"/api/v1/targets?limit=4&cursor={first.json['next_cursor']}")
    third = as_inspector.get(f"/api/v1/targets?limit=4&cursor={second.json['next_cursor']}")
    ids = [t["id"] for page in (first, second, third) for t in page.json["items"]]
    assert len(ids) == len(set(ids)) == len(world.targets) + len(world.other_targets)
    assert third.json["next_cursor"] is None


def test_forged_cursor_is_422(as_inspector, world):
    response = as_inspector.get("/api/v1/targets?cursor=bm9wZQ")
    assert response.status_code == 422
    assert "cursor" in response.json["error"]["details"]


def test_targets_filter_by_area(as_inspector, world):
    response = as_inspector.get(f"/api/v1/targets?area_id={world.areas[1].id}")
    assert {t["area"]["id"] for t in response.json["items"]} == {world.areas[1].id}


def test_editing_a_scene_creates_a_new_version_and_keeps_the_old(app, as_admin, world):
    scene = as_admin.get(f"/api/v1/scenes/{world.scene.id}").json
    current = scene["current"]
    items = [{k: i[k] for k in ("code", "department", "text", "legal_basis", "severity", "photo_required_on_fail")}
             for i in current["items"]]
    items[0]["text"] = "食品经营许可证在有效期内并在醒目位置公示"
    body = {"name": current["name"], "category": current["category"], "cadence": "quarterly",
            "sample": {"kind": "fixed", "value": 5}, "departments": current["departments"], "items": items}
    response = as_admin.put(f"/api/v1/scenes/{world.scene.id}", json=body)
    assert response.status_code == 200
    assert response.json["current_version"] == 2
    assert response.json["current"]["cadence"] == "quarterly"
    old = as_admin.get(f"/api/v1/scenes/{world.scene.id}/versions/1").json
    assert old["cadence"] == "monthly"
    assert old["items"][0]["text"] == current["items"][0]["text"]
    with app.app_context():
        assert db.session.query(SceneVersion).filter_by(scene_id=world.scene.id).count() == 2


def test_scene_item_of_a_department_not_taking_part_is_refused(app, as_admin, world):
    body = {"code": "jiayou", "name": "加油站", "category": "gas_station", "cadence": "quarterly",
            "sample": {"kind": "all", "value": 0}, "departments": ["yjgl"],
            "items": [{"code": "JY-01", "department": "scjg", "text": "加油机计量检定合格",
                       "legal_basis": "《中华人民共和国计量法》", "severity": "medium"}]}
    response = as_admin.post("/api/v1/scenes", json=body)
    assert response.status_code == 422
    assert "items" in response.json["error"]["details"]
    assert _count(app, Scene) == 1


def test_percentage_sample_above_100_is_refused(as_admin, world):
    body = {"code": "jiayou", "name": "加油站", "category": "gas_station", "cadence": "quarterly",
            "sample": {"kind": "percent", "value": 150}, "departments": ["yjgl"],
            "items": [{"code": "JY-01", "department": "yjgl", "text": "危险化学品储存符合要求",
                       "legal_basis": "《危险化学品安全管理条例》", "severity": "high"}]}
    response = as_admin.post("/api/v1/scenes", json=body)
    assert response.status_code == 422
    assert "sample" in response.json["error"]["details"]


def test_admin_creates_inspector_who_can_sign_in(app, as_admin, client, world):
    body = {"username": "zf_wu", "full_name": "吴执法", "roles": ["inspector"], "department": "zhzf",
            "squad_id": world.squad.id, "certificate_no": "331102200077", "password": "a long password 1"}
    response = as_admin.post("/api/v1/users", json=body)
    assert response.status_code == 201
    assert "password" not in response.json
    assert client.login("zf_wu", "a long password 1").status_code == 200


def test_inspector_without_certificate_is_refused(app, as_admin, world):
    before = _count(app, User)
    body = {"username": "zf_wu", "full_name": "吴执法", "roles": ["inspector"], "department": "zhzf",
            "squad_id": world.squad.id, "password": "a long password 1"}
    response = as_admin.post("/api/v1/users", json=body)
    assert response.status_code == 422
    assert "certificate_no" in response.json["error"]["details"]
    assert _count(app, User) == before


def test_area_cannot_belong_to_two_squads(as_admin, world):
    response = as_admin.patch(f"/api/v1/squads/{world.other_squad.id}",
                              json={"area_ids": [world.areas[0].id, world.areas[1].id]})
    assert response.status_code == 409
    assert response.json["error"]["details"]["area_ids"] == [world.areas[0].id]
