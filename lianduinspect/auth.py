"""The request gate: who is calling (server-side session cookie), may they (POLICY), and CSRF."""
from __future__ import annotations

import hmac
from datetime import datetime, timezone

from flask import Flask, current_app, g, request

from . import permissions
from .db import db, transaction
from .errors import ApiError
from .services import auth as auth_service

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_HEADER = "X-CSRF-Token"


def now() -> datetime:
    """Return the request's clock (one place, so tests can pin it)."""
    pinned = current_app.config.get("FIXED_NOW")
    return pinned if pinned else datetime.now(timezone.utc)


def current_user():
    """Return the signed-in user of this request (None for public calls)."""
    return g.get("user")


def set_session_cookie(response, token: str) -> None:
    """Give the browser its session token: HttpOnly, SameSite=Lax, Secure behind HTTPS."""
    response.set_cookie(current_app.config["SESSION_COOKIE_NAME"], token, httponly=True, samesite="Lax",
                        secure=current_app.config["SESSION_COOKIE_SECURE"], path="/",
                        max_age=current_app.config["SESSION_HOURS"] * 3600 * 30)


def clear_session_cookie(response) -> None:
    """Remove the session cookie."""
    response.delete_cookie(current_app.config["SESSION_COOKIE_NAME"], path="/")


def init_app(app: Flask) -> None:
    """Install the gate in front of every request."""

    @app.before_request
    def _gate():
        g.user = None
        g.auth_session = None
        if request.endpoint is None:
            return None  # no such route: let routing answer 404/405
        rule = permissions.endpoint_roles(request.endpoint)
        if rule is None:
            raise ApiError("forbidden", "This route has no access rule.")
        token = request.cookies.get(app.config["SESSION_COOKIE_NAME"])
        resolved = auth_service.resolve(db.session, token, now=now()) if token else None
        if resolved:
            g.auth_session, g.user = resolved
        if rule == permissions.PUBLIC:
            return None
        if g.user is None:
            raise ApiError("session.expired" if token else "unauthenticated")
        if not g.user.has(*rule):
            raise ApiError("forbidden")
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), g.auth_session.csrf_token.encode()):
                raise ApiError("csrf")
        if auth_service.due_for_touch(g.auth_session, now=now()):
            with transaction() as session:
                auth_service.touch(session, g.auth_session.id, now=now(), config=app.config)
        return None

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
