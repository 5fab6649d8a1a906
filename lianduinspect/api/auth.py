"""Sign in, sign out, and who am I."""
from __future__ import annotations

from flask import current_app, g, jsonify
from werkzeug.http import quote_etag

from ..auth import clear_session_cookie, current_user, now, set_session_cookie
from ..db import db, transaction
from ..permissions import endpoint_roles
from ..schemas.auth import LoginAnswerSchema, LoginQuery, LoginSchema, MeSchema
from ..services import auth as auth_service
from ..services import pack
from . import bp, doc, json_body, query_args


@bp.post("/auth/login")
@doc("Sign in; sets the session cookie and returns the CSRF token. With include=pack, a user who may read "
     "GET /pack gets the pack and its ETag in the same answer", body=LoginSchema, query=LoginQuery,
     response=LoginAnswerSchema, tag="auth")
def auth_login():
    creds = json_body(LoginSchema())
    include = query_args(LoginQuery())["include"]
    with transaction() as session:
        result = auth_service.login(session, creds["username"], creds["password"], now=now(),
                                    config=current_app.config)
    if result.error:
        raise result.error  # after the commit: the failure count is kept
    user = db.session.merge(result.user)
    # On a slow link the pack's own request would cost the inspector a second round trip before the round
    # list; the pack comes along only for users GET /pack itself would answer.
    content = (pack.build_pack(db.session, user)
               if include == "pack" and user.has(*endpoint_roles("api.pack_get")) else None)
    answer = LoginAnswerSchema().dump({"user": user, "csrf_token": result.auth_session.csrf_token,
                                       "pack": content, "pack_etag": None})
    if answer["pack"] is not None:
        # The ETag GET /pack gives the same pack, ready for If-None-Match: the phone's next refresh is a 304.
        answer["pack_etag"] = quote_etag(pack.etag(answer["pack"]))
    response = jsonify(answer)
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
