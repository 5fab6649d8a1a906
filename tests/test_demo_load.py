"""The demo a new user meets after `make run`: Liandu's registry, loaded once, readable through the API."""
from __future__ import annotations

from lianduinspect.db import db
from lianduinspect.demo.generate import build_demo
from lianduinspect.demo.loader import DEMO_PASSWORD
from lianduinspect.models import Scene, Target, User
from lianduinspect.rules import creditcode, geo
from lianduinspect.schemas.scenes import SceneCreateSchema

from .conftest import ApiClient


def test_demo_scenes_pass_the_admin_scene_schema():
    for scene in build_demo()["scenes"]:
        SceneCreateSchema().load(scene)


def test_demo_load_fills_an_empty_database_and_prints_logins(app, runner):
    result = runner.invoke(args=["demo", "load", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert "demo loaded" in result.output and DEMO_PASSWORD in result.output
    for role in ("admin", "supervisor", "leader", "inspector"):
        assert role in result.output
    with app.app_context():
        assert db.session.query(Target).count() >= 600
        assert db.session.query(Scene).count() >= 10
        assert db.session.query(User).count() >= 30
        assert all(creditcode.is_valid(t.credit_code) and geo.inside_liandu(t.lat, t.lon)
                   for t in db.session.query(Target))


def test_demo_load_if_empty_does_not_load_twice(app, runner):
    runner.invoke(args=["demo", "load", "--if-empty"])
    again = runner.invoke(args=["demo", "load", "--if-empty"])
    assert "already has data" in again.output
    with app.app_context():
        assert db.session.query(Target).count() == 640


def test_demo_inspector_signs_in_and_reads_scenes_targets_users(app, runner):
    runner.invoke(args=["demo", "load"])
    inspector = next(u for u in build_demo()["users"] if u["roles"] == ["inspector"])
    client = ApiClient(app)
    assert client.login(inspector["username"], DEMO_PASSWORD).status_code == 200
    scenes = client.get("/api/v1/scenes").json["items"]
    assert any(s["current"]["name"] == "餐饮服务场所" for s in scenes)
    assert all("《" in i["legal_basis"] for s in scenes for i in s["current"]["items"])
    assert len(client.get("/api/v1/targets?limit=500").json["items"]) == 500
    assert client.get("/api/v1/users").status_code == 200


def test_production_install_starts_with_no_account(app):
    with app.app_context():
        assert db.session.query(User).count() == 0


def test_create_admin_makes_the_first_account(app, runner):
    result = runner.invoke(args=["users", "create-admin", "--username", "admin", "--full-name", "管理员",
                                 "--password", "a very long password"])
    assert result.exit_code == 0, result.output
    assert ApiClient(app).login("admin", "a very long password").status_code == 200


def test_demo_supervisor_finds_field_work_to_review(app, runner, now):
    """The demo comes with two days of field work done through the services: records with photos in the
    review queue (flagged ones among them), decided ones, open rectifications, one kept record."""
    app.config["FIXED_NOW"] = now  # mid-month: a month's first hours leave no time for field work
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    supervisor = next(u for u in build_demo()["users"] if "supervisor" in u["roles"])
    client = ApiClient(app)
    assert client.login(supervisor["username"], DEMO_PASSWORD).status_code == 200
    queue = client.get("/api/v1/reviews/queue?limit=200").json["items"]
    assert len(queue) >= 10 and all(item["evidence_complete"] for item in queue)
    flagged = client.get("/api/v1/reviews/queue?flagged=true&limit=200").json["items"]
    codes = set()
    for item in flagged:
        codes |= {f["code"] for f in client.get(f"/api/v1/reviews/inspections/{item['id']}").json["flags"]}
    assert {"gps_far", "no_camera_metadata", "same_photo_elsewhere"} <= codes
    decided = {status: client.get(f"/api/v1/reviews/queue?status={status}&limit=200").json["items"]
               for status in ("approved", "rejected", "needs_evidence")}
    assert all(decided.values()), {k: len(v) for k, v in decided.items()}
    assert client.get("/api/v1/rectifications?limit=200").json["items"]
    [kept] = client.get("/api/v1/conflicts").json["items"]
    assert kept["reason"] == "same_uuid"
    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0 and "audit chain OK" in verified.output, verified.output


def test_demo_loaded_in_a_months_first_hours_has_rounds_but_no_field_work_yet(app, runner):
    """Field work cannot predate the rounds, and a month's rounds begin with the month."""
    from datetime import datetime, timezone

    from lianduinspect.models import Inspection, Round

    app.config["FIXED_NOW"] = datetime(2023, 3, 31, 17, 0, tzinfo=timezone.utc)  # 1 April, 01:00 in Lishui
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.query(Round).count() > 0 and db.session.query(Inspection).count() == 0
    assert "rounds for 2023-04" in result.output and "inspections" not in result.output
