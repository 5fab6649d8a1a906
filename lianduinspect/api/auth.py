"""Sign in, sign out, and who am I."""
from __future__ import annotations

from flask import current_app, g, jsonify

from ..auth import clear_session_cookie, current_user, now, set_session_cookie
from ..db import db, transaction
from ..schemas.auth import LoginSchema, MeSchema
from ..services import auth as auth_service
from . import bp, doc, json_body


@bp.post("/auth/login")
@doc("Sign in; sets the session cookie and returns the CSRF token", body=LoginSchema, response=MeSchema,
     tag="auth")
def auth_login():
    creds = json_body(LoginSchema())
    with transaction() as session:
        result = auth_service.login(session, creds["username"], creds["password"], now=now(),
                                    config=current_app.config)
    if result.error:
        raise result.error  # after the commit: the failure count is kept
    user = db.session.merge(result.user)
    response = jsonify(MeSchema().dump({"user": user, "csrf_token": result.auth_session.csrf_token}))
    set_session_cookie(response, result.token)
    return response


@bp.post("/auth/logout")
@doc("Sign out; the session cookie stops working at once", status=204, tag="auth")
def auth_logout():
    with transaction() as session:
        auth_service.logout(session, session.merge(g.auth_session), now=now())
    response = current_app.response_class(status=204)
    clear_session_cookie(response)
    return response


@bp.get("/me")
@doc("The signed-in user and the CSRF token for writes", response=MeSchema, tag="auth")
def me():
    return MeSchema().dump({"user": current_user(), "csrf_token": g.auth_session.csrf_token})
