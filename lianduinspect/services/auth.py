"""Sign-in with argon2id, server-side sessions, and per-account throttling kept in the database."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update

from ..errors import ApiError
from ..models import AuthSession, LoginThrottle, User
from . import audit

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the username is unknown, so both paths take the same time.
_DUMMY_HASH = _hasher.hash("not a password")


def hash_password(password: str) -> str:
    """Return an argon2id hash of the password."""
    return _hasher.hash(password)


def token_key(token: str) -> str:
    """Return the database key of a session token (the token itself is never stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class LoginResult:
    user: User | None
    token: str | None
    auth_session: AuthSession | None
    error: ApiError | None


def login(session, username: str, password: str, *, now: datetime, config: dict) -> LoginResult:
    """Check a password; count failures per account so the lock holds across workers.

    Returns the error rather than raising it: the failure count must be committed too.
    """
    throttle = session.get(LoginThrottle, username, with_for_update=True)
    if throttle and throttle.locked_until and throttle.locked_until > now:
        retry = int((throttle.locked_until - now).total_seconds()) + 1
        return LoginResult(None, None, None, ApiError("auth.locked", details={"retry_after": retry}))
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    ok = False
    try:
        ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        if throttle is None:
            throttle = LoginThrottle(username=username, failures=0)
            session.add(throttle)
        throttle.failures = (throttle.failures or 0) + 1
        throttle.last_failure_at = now
        if throttle.failures >= config["LOGIN_MAX_FAILURES"]:
            throttle.locked_until = now + timedelta(minutes=config["LOGIN_LOCK_MINUTES"])
            throttle.failures = 0
        audit.record(session, user, "auth.login_failed", "user", username, {}, now=now)
        return LoginResult(None, None, None, ApiError("auth.invalid_credentials"))
    if not user.active:
        return LoginResult(None, None, None, ApiError("auth.disabled"))
    if throttle:
        session.delete(throttle)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    token = secrets.token_urlsafe(32)
    auth_session = AuthSession(id=token_key(token), user_id=user.id, csrf_token=secrets.token_urlsafe(24),
                               created_at=now, last_seen_at=now,
                               expires_at=now + timedelta(hours=config["SESSION_HOURS"]))
    session.add(auth_session)
    audit.record(session, user, "auth.login", "user", user.id, {}, now=now)
    session.flush()
    return LoginResult(user, token, auth_session, None)


def logout(session, auth_session: AuthSession, *, now: datetime) -> None:
    """Revoke the session at once."""
    auth_session.revoked_at = now
    audit.record(session, auth_session.user_id, "auth.logout", "user", auth_session.user_id, {}, now=now)
    session.flush()


def revoke_all(session, user_id: int, *, now: datetime) -> None:
    """Revoke every live session of a user (on disabling or a password change)."""
    session.execute(update(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
                    .values(revoked_at=now))


def resolve(session, token: str | None, *, now: datetime) -> tuple[AuthSession, User] | None:
    """Return the live session and its active user for a cookie token, or None."""
    if not token or len(token) > 200:
        return None
    # One query for both (every request passes here; the user's roles follow in a second).
    row = session.execute(select(AuthSession, User).join(User, User.id == AuthSession.user_id)
                          .where(AuthSession.id == token_key(token))).first()
    if row is None:
        return None
    auth_session, user = row
    if auth_session.revoked_at is not None or auth_session.expires_at <= now or not user.active:
        return None
    return auth_session, user


def due_for_touch(auth_session: AuthSession, *, now: datetime) -> bool:
    """Return whether the sliding expiry should move (at most every five minutes, to spare writes)."""
    return now - auth_session.last_seen_at >= timedelta(minutes=5)


def touch(session, session_id: str, *, now: datetime, config: dict) -> None:
    """Slide a session's expiry forward."""
    live = session.get(AuthSession, session_id)
    if live is not None and live.revoked_at is None:
        live.last_seen_at = now
        live.expires_at = now + timedelta(hours=config["SESSION_HOURS"])
