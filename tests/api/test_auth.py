"""Sign-in, sessions, CSRF and throttling, from the client's side."""
from __future__ import annotations

from lianduinspect.db import db
from lianduinspect.models import AuthSession, LoginThrottle

from ..factories import PASSWORD


def test_login_sets_httponly_samesite_cookie_and_returns_csrf(client, world):
    response = client.login(world.inspector.username)
    assert response.status_code == 200
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.json["user"]["username"] == "zf_chen"
    assert response.json["csrf_token"]
    assert "password" not in response.json["user"] and "password_hash" not in response.json["user"]


def test_wrong_password_is_401_in_the_error_shape(client, world):
    response = client.login(world.inspector.username, "wrong password")
    assert response.status_code == 401
    assert response.json == {"error": {"code": "auth.invalid_credentials", "message": response.json["error"]["message"],
                                       "details": {}}}


def test_session_token_is_not_stored_in_clear(app, client, world):
    client.login(world.inspector.username)
    token = client.http.get_cookie("li_session").value
    with app.app_context():
        ids = [s.id for s in db.session.query(AuthSession)]
    assert ids and token not in ids


def test_me_requires_sign_in(client, world):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthenticated"


def test_logout_makes_old_cookie_fail(client, world):
    client.login(world.inspector.username)
    cookie = client.http.get_cookie("li_session").value
    assert client.post("/api/v1/auth/logout").status_code == 204
    client.http.set_cookie("li_session", cookie)  # a copy kept by an attacker or a stale tab
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "session.expired"


def test_disabling_a_user_ends_their_session_at_once(as_admin, as_inspector, world):
    assert as_inspector.get("/api/v1/me").status_code == 200
    response = as_admin.patch(f"/api/v1/users/{world.inspector.id}", json={"active": False})
    assert response.status_code == 200 and response.json["active"] is False
    assert as_inspector.get("/api/v1/me").status_code == 401


def test_disabled_user_cannot_sign_in(as_admin, client, world):
    as_admin.patch(f"/api/v1/users/{world.inspector.id}", json={"active": False})
    response = client.login(world.inspector.username)
    assert response.status_code == 403
    assert response.json["error"]["code"] == "auth.disabled"


def test_write_without_csrf_token_is_refused(as_admin, world):
    as_admin.csrf = None
    response = as_admin.post("/api/v1/departments", json={"code": "xyz", "name": "新部门", "short": "新"})
    assert response.status_code == 403
    assert response.json["error"]["code"] == "csrf"


def test_login_locks_account_after_repeated_failures(app, client, world):
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert client.login(world.inspector.username, "nope").status_code == 401
    response = client.login(world.inspector.username, PASSWORD)
    assert response.status_code == 429
    assert response.json["error"]["code"] == "auth.locked"
    assert int(response.headers["Retry-After"]) > 0


def test_login_lock_is_kept_in_the_database_for_every_worker(app, world):
    """A second app (another worker process) over the same database sees the lock."""
    from lianduinspect import create_app

    from ..conftest import ApiClient

    first = ApiClient(app)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        first.login(world.inspector.username, "nope")
    other_worker = create_app({"TESTING": True, "DATABASE_URL": app.config["DATABASE_URL"], "SECRET_KEY": "x",
                               "STORAGE_URL": app.config["STORAGE_URL"]})
    try:
        response = ApiClient(other_worker).login(world.inspector.username, PASSWORD)
        assert response.status_code == 429
        with other_worker.app_context():
            assert db.session.get(LoginThrottle, world.inspector.username).locked_until is not None
    finally:
        with other_worker.app_context():
            db.session.remove()
            db.engine.dispose()


def test_successful_login_clears_failure_count(app, client, world):
    client.login(world.inspector.username, "nope")
    assert client.login(world.inspector.username).status_code == 200
    with app.app_context():
        assert db.session.get(LoginThrottle, world.inspector.username) is None


def _login_with_pack(client, username, include="pack"):
    return client.http.post(f"/api/v1/auth/login?include={include}", json={"username": username, "password": PASSWORD})


def test_login_with_include_pack_answers_the_pack_the_phone_would_fetch_next(client, world):
    signed_in = _login_with_pack(client, world.inspector.username)
    assert signed_in.status_code == 200
    assert signed_in.json["user"]["username"] == world.inspector.username and signed_in.json["csrf_token"]
    fetched = client.get("/api/v1/pack")
    assert signed_in.json["pack"] == fetched.json
    assert [r["id"] for r in signed_in.json["pack"]["rounds"]] == [world.round.id]
    assert signed_in.json["pack_etag"] == fetched.headers["ETag"]


def test_pack_etag_from_login_makes_the_next_refresh_a_304(client, world):
    etag = _login_with_pack(client, world.inspector.username).json["pack_etag"]
    for encoding in ("identity", "gzip"):  # the phone asks compressed
        again = client.get("/api/v1/pack", headers={"If-None-Match": etag, "Accept-Encoding": encoding})
        assert again.status_code == 304 and again.get_data() == b""


def test_login_without_include_carries_no_pack(client, world):
    response = client.login(world.inspector.username)
    assert response.status_code == 200
    assert response.json["pack"] is None and response.json["pack_etag"] is None


def test_login_brings_no_pack_to_a_user_who_may_not_read_one(client, world):
    response = _login_with_pack(client, world.supervisor.username)
    assert response.status_code == 200
    assert response.json["pack"] is None and response.json["pack_etag"] is None


def test_login_include_names_only_the_pack(client, world):
    response = _login_with_pack(client, world.inspector.username, include="users")
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation"
    assert "include" in response.json["error"]["details"]


def test_failed_login_with_include_pack_is_401_without_a_pack(client, world):
    response = client.http.post("/api/v1/auth/login?include=pack",
                                json={"username": world.inspector.username, "password": "wrong password"})
    assert response.status_code == 401
    assert set(response.json) == {"error"}
