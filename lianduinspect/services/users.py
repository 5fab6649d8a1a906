"""Accounts: admins create, change and disable them; disabling ends their sessions at once."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select

from ..errors import ApiError, NotFound, ValidationFailed
from ..models import Department, Squad, User, UserRole
from . import audit
from .auth import hash_password, revoke_all
from .paging import paginate


def list_users(session, *, squad_id=None, role=None, q=None, cursor=None, limit=100):
    """Return a page of users, filtered."""
    stmt = select(User)
    if squad_id is not None:
        stmt = stmt.where(User.squad_id == squad_id)
    if role:
        stmt = stmt.where(User.id.in_(select(UserRole.user_id).where(UserRole.role == role)))
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(User.username.like(like), User.full_name.like(like)))
    return paginate(session, stmt, User.id, cursor, limit)


def get_user(session, user_id: int) -> User:
    """Return one user or 404."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user")
    return user


def _resolve_refs(session, values: dict) -> dict:
    """Turn a department code and squad id into checked references."""
    out = dict(values)
    if "department_code" in values:
        code = out.pop("department_code")
        if code is None:
            out["department_id"] = None
        else:
            dept = session.scalar(select(Department).where(Department.code == code))
            if dept is None:
                raise ValidationFailed({"department": [f"No department {code!r}."]})
            out["department_id"] = dept.id
    if out.get("squad_id") is not None and session.get(Squad, out["squad_id"]) is None:
        raise ValidationFailed({"squad_id": ["No such squad."]})
    if "roles" in out:
        roles = out["roles"]
        if len(set(roles)) != len(roles):
            raise ValidationFailed({"roles": ["A role is listed twice."]})
    return out


def _check_unique(session, field: str, value, exclude_id=None) -> None:
    if value is None:
        return
    stmt = select(User.id).where(getattr(User, field) == value)
    if exclude_id is not None:
        stmt = stmt.where(User.id != exclude_id)
    if session.scalar(stmt) is not None:
        raise ApiError("conflict", f"{field} is already used.", {"field": field})


def _check_role_rules(user: User) -> None:
    """Field roles need a squad and a certificate; the two-officer rule depends on certificates."""
    roles = user.roles
    if ("inspector" in roles or "leader" in roles) and user.squad_id is None:
        raise ValidationFailed({"squad_id": ["Inspectors and squad leaders belong to a squad."]})
    if "inspector" in roles and not user.certificate_no:
        raise ValidationFailed({"certificate_no": ["An inspector needs an enforcement certificate number."]})


def create_user(session, actor, values: dict, *, now: datetime) -> User:
    """Create an account with an argon2id password hash."""
    values = _resolve_refs(session, values)
    _check_unique(session, "username", values["username"])
    _check_unique(session, "certificate_no", values.get("certificate_no"))
    roles = values.pop("roles")
    password = values.pop("password")
    user = User(**values, password_hash=hash_password(password))
    user.role_rows = [UserRole(role=r) for r in roles]
    _check_role_rules(user)
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", "user", user.id,
                 {"username": user.username, "roles": roles}, now=now)
    return user


def update_user(session, actor, user_id: int, values: dict, *, now: datetime) -> User:
    """Change an account; disabling it or changing its password revokes its sessions."""
    user = get_user(session, user_id)
    values = _resolve_refs(session, values)
    _check_unique(session, "certificate_no", values.get("certificate_no"), user.id)
    if "roles" in values:
        roles = values.pop("roles")
        if user.id == getattr(actor, "id", None) and "admin" not in roles:
            raise ValidationFailed({"roles": ["You cannot remove your own admin role."]})
        user.role_rows = [UserRole(role=r) for r in roles]
    revoke = False
    if "password" in values:
        user.password_hash = hash_password(values.pop("password"))
        revoke = True
    if values.get("active") is False:
        if user.id == getattr(actor, "id", None):
            raise ValidationFailed({"active": ["You cannot disable your own account."]})
        revoke = True
    for key, value in values.items():
        setattr(user, key, value)
    _check_role_rules(user)
    if revoke:
        revoke_all(session, user.id, now=now)
    changed = sorted(values) + (["password"] if revoke and values.get("active", True) else [])
    audit.record(session, actor, "user.update", "user", user.id, {"fields": changed}, now=now)
    session.flush()
    return user
