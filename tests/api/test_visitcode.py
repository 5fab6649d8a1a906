"""The visit code: a public page and API that verify a visit and take anonymous ratings, rate limited."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import inspect as sa_inspect, select

from lianduinspect.db import db
from lianduinspect.models import AuditEvent, Evaluation, PublicRateCounter, PublicRateSalt

from ..factories_review import make_evaluation, make_inspection, visits_of


@pytest.fixture
def visit(app, session, world, now):
    """The first visit of the world's round, inspected by the inspector and partner."""
    app.config["FIXED_NOW"] = now
    visit = visits_of(session, world.round)[0]
    make_inspection(session, visit, [world.inspector, world.partner])
    session.commit()
    return {"id": visit.id, "code": visit.code}


def _rate(client, code, rating=5, comment=None, address="203.0.113.7"):
    return client.post(f"/api/v1/public/visits/{code}/evaluations", json={"rating": rating, "comment": comment},
                       environ_base={"REMOTE_ADDR": address})


def test_public_visit_shows_scenes_window_team_and_items_without_sign_in(client, visit, world):
    response = client.get(f"/api/v1/public/visits/{visit['code']}")
    assert response.status_code == 200
    body = response.json
    assert body["registered"] is True and body["status"] == "inspected"
    assert body["scenes"] == [{"name": "餐饮服务场所", "departments": ["综合行政执法", "市场监督管理", "应急管理"]}]
    assert [p["certificate_no"] for p in body["inspectors"]] == [world.inspector.certificate_no,
                                                                 world.partner.certificate_no]
    assert body["window"]["start"].endswith("+00:00")
    assert all(item["legal_basis"] for item in body["items"]) and len(body["items"]) == 6
    assert body["accepting_evaluations"] is True
    text = response.get_data(as_text=True)
    assert world.inspector.username not in text  # names and certificate numbers only, no accounts


def test_unknown_code_is_404_in_the_one_shape(client):
    response = client.get("/api/v1/public/visits/not-a-real-code")
    assert response.status_code == 404
    assert response.json == {"error": {"code": "not_found", "message": "No such visit code.", "details": {}}}
    assert _rate(client, "not-a-real-code").status_code == 404


def test_the_page_is_served_in_chinese_for_any_code_and_says_when_it_is_unknown(client):
    response = client.get("/v/whatever-code")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "检查码" in html and "未找到该检查码" in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert client.get("/static/visit.js").status_code == 200


def test_evaluation_keeps_no_time_device_or_person(app, client, visit, now):
    response = _rate(client, visit["code"], 4, "执法人员亮证检查，态度文明")
    assert response.status_code == 201 and response.json == {"received": True}
    with app.app_context():
        stored = db.session.scalars(select(Evaluation)).one()
        assert (stored.visit_id, stored.rating, stored.comment) == (visit["id"], 4, "执法人员亮证检查，态度文明")
        assert stored.created_on == date(2023, 4, 10)  # the local day, nothing finer
        columns = {c.key for c in sa_inspect(Evaluation).columns}
        assert columns == {"id", "visit_id", "rating", "comment", "created_on"}
        # No audit event: its exact time would tie the rating to a web server's log line.
        assert db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("evaluation%"))).all() == []


def test_rate_counters_hold_neither_address_nor_code_and_die_with_their_minute(app, client, visit, now):
    _rate(client, visit["code"], 5)
    with app.app_context():
        keys = db.session.scalars(select(PublicRateCounter.key)).all()
        assert len(keys) == 2 and not any("203.0.113.7" in k or visit["code"] in k for k in keys)
        assert len(db.session.scalars(select(PublicRateSalt)).all()) == 1
    app.config["FIXED_NOW"] = now + timedelta(minutes=2)
    client.get(f"/api/v1/public/visits/{visit['code']}", environ_base={"REMOTE_ADDR": "198.51.100.1"})
    with app.app_context():
        assert db.session.scalars(select(PublicRateCounter.key)).all() != keys  # the old minute is gone
        assert len(db.session.scalars(select(PublicRateCounter)).all()) == 2
        assert len(db.session.scalars(select(PublicRateSalt)).all()) == 1


def test_at_most_three_evaluations_per_visit(client, visit):
    for n in range(3):
        assert _rate(client, visit["code"], 5, address=f"203.0.113.{n}").status_code == 201
    response = _rate(client, visit["code"], 1, address="203.0.113.9")
    assert response.status_code == 409
    assert response.json["error"]["code"] == "evaluation.limit" and response.json["error"]["details"] == {"limit": 3}


@pytest.mark.parametrize("body,field", [
    ({"rating": 0}, "rating"), ({"rating": 6}, "rating"), ({"rating": "5"}, "rating"), ({}, "rating"),
    ({"rating": 3, "comment": "长" * 501}, "comment"), ({"rating": 3, "ip": "1.2.3.4"}, "ip"),
])
def test_bad_evaluations_are_422(client, visit, body, field):
    response = client.post(f"/api/v1/public/visits/{visit['code']}/evaluations", json=body)
    assert response.status_code == 422 and field in response.json["error"]["details"]


def test_cancelled_visit_is_shown_as_cancelled_and_takes_no_ratings(app, session, client, world, now):
    app.config["FIXED_NOW"] = now
    visit = visits_of(session, world.round)[1]
    world.round.status = "cancelled"
    session.commit()
    body = client.get(f"/api/v1/public/visits/{visit.code}").json
    assert (body["registered"], body["status"], body["accepting_evaluations"]) == (False, "cancelled", False)
    response = _rate(client, visit.code)
    assert response.status_code == 409 and response.json["error"]["code"] == "evaluation.closed"


def test_too_many_requests_from_one_address_are_429_with_retry_after(app, client, visit):
    app.config["PUBLIC_RATE_PER_MINUTE"] = 3
    codes = [client.get(f"/api/v1/public/visits/{visit['code']}x{n}", environ_base={"REMOTE_ADDR": "192.0.2.5"})
             .status_code for n in range(5)]
    assert codes == [404, 404, 404, 429, 429]  # guessing codes counts too
    response = client.get(f"/api/v1/public/visits/{visit['code']}", environ_base={"REMOTE_ADDR": "192.0.2.5"})
    assert response.status_code == 429 and response.json["error"]["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    other = client.get(f"/api/v1/public/visits/{visit['code']}", environ_base={"REMOTE_ADDR": "192.0.2.6"})
    assert other.status_code == 200


def test_too_many_requests_for_one_code_are_429_whatever_the_address(app, client, visit):
    app.config["PUBLIC_RATE_PER_MINUTE"] = 2
    codes = [client.get(f"/api/v1/public/visits/{visit['code']}", environ_base={"REMOTE_ADDR": f"192.0.2.{n}"})
             .status_code for n in range(3)]
    assert codes == [200, 200, 429]


def _many(session, world, squad_round, ratings, on):
    visits = visits_of(session, squad_round)
    for n, rating in enumerate(ratings):
        make_evaluation(session, visits[n % len(visits)], rating, comment=f"意见{n}", on=on)
    session.commit()


def test_leader_sees_not_enough_below_five(app, session, world, as_leader, now):
    app.config["FIXED_NOW"] = now
    _many(session, world, world.round, [5, 4, 1, 5], date(2023, 3, 20))
    body = as_leader.get("/api/v1/evaluations/summary").json
    assert body["enough"] is False and "count" not in body and "average" not in body


def test_leader_sees_aggregates_of_completed_months_never_single_evaluations(app, session, world, as_leader, now):
    app.config["FIXED_NOW"] = now
    _many(session, world, world.round, [5, 4, 1, 5, 5], date(2023, 3, 20))
    _many(session, world, world.round, [1], date(2023, 4, 9))  # this month: not shown yet
    _many(session, world, world.other_round, [2, 2, 2, 2, 2], date(2023, 3, 2))
    response = as_leader.get("/api/v1/evaluations/summary")
    body = response.json
    assert (body["enough"], body["count"], body["average"]) == (True, 5, 4.0)
    assert body["distribution"] == {"1": 1, "2": 0, "3": 0, "4": 1, "5": 3}
    assert body["months"] == [{"month": "2023-03", "count": 5, "average": 4.0,
                               "distribution": {"1": 1, "2": 0, "3": 0, "4": 1, "5": 3}}]
    assert "意见" not in response.get_data(as_text=True)


def test_supervisor_sees_aggregates_per_squad_and_department(app, session, world, as_supervisor, now):
    app.config["FIXED_NOW"] = now
    _many(session, world, world.round, [5, 3], date(2023, 4, 2))
    _many(session, world, world.other_round, [1], date(2023, 4, 2))
    body = as_supervisor.get("/api/v1/evaluations/summary").json
    assert body["scope"] == "all"
    assert [(s["name"], s["count"], s["average"]) for s in body["squads"]] == [("城东中队", 2, 4.0),
                                                                              ("碧湖中队", 1, 1.0)]
    assert {d["code"]: d["count"] for d in body["departments"]} == {"zhzf": 3, "scjg": 3, "yjgl": 3}


def test_inspectors_do_not_see_evaluations(as_inspector):
    assert as_inspector.get("/api/v1/evaluations/summary").status_code == 403


def test_behind_a_proxy_each_forwarded_client_has_its_own_limit(app, visit):
    """With PROXY_HOPS set, the rate limit counts the address in X-Forwarded-For, not the proxy's."""
    from lianduinspect import create_app

    proxied = create_app({**{k: app.config[k] for k in ("DATABASE_URL", "STORAGE_URL", "SECRET_KEY")},
                          "TESTING": True, "PROXY_HOPS": 1, "PUBLIC_RATE_PER_MINUTE": 3})
    http = proxied.test_client()

    def guess(n, client_address):
        return http.get(f"/api/v1/public/visits/{visit['code']}y{n}", environ_base={"REMOTE_ADDR": "10.0.0.1"},
                        headers={"X-Forwarded-For": client_address}).status_code

    assert [guess(n, "198.51.100.20") for n in range(4)] == [404, 404, 404, 429]
    assert guess(9, "198.51.100.21") == 404  # another phone behind the same proxy is not blocked
    with proxied.app_context():
        db.session.remove()
        db.engine.dispose()


def test_supervisors_read_written_evaluations_newest_first_and_the_evaluated_squad_cannot(client, visit, as_supervisor, as_leader,
                                                                           world):
    assert client.post(f"/api/v1/public/visits/{visit['code']}/evaluations",
                       json={"rating": 2, "comment": "检查人员态度生硬"}).status_code == 201
    assert client.post(f"/api/v1/public/visits/{visit['code']}/evaluations", json={"rating": 5}).status_code == 201
    listed = as_supervisor.get("/api/v1/evaluations/comments")
    assert listed.status_code == 200
    assert [(c["rating"], c["comment"], c["squad"]["name"]) for c in listed.json["items"]] == [
        (2, "检查人员态度生硬", "城东中队")]
    assert client.post(f"/api/v1/public/visits/{visit['code']}/evaluations",
                       json={"rating": 4, "comment": "现场指导耐心"}).status_code == 201
    first = as_supervisor.get("/api/v1/evaluations/comments?limit=1").json
    assert [c["comment"] for c in first["items"]] == ["现场指导耐心"]  # the newest first
    rest = as_supervisor.get(f"/api/v1/evaluations/comments?limit=1&cursor={first['next_cursor']}").json
    assert [c["comment"] for c in rest["items"]] == ["检查人员态度生硬"] and rest["next_cursor"] is None
    other_squad = as_supervisor.get(f"/api/v1/evaluations/comments?squad_id={world.other_squad.id}")
    assert other_squad.json["items"] == []
    assert as_leader.get("/api/v1/evaluations/comments").status_code == 403
