"""Users: everyone signed in reads; admins write."""
from __future__ import annotations

from ..auth import current_user, now
from ..db import db, transaction
from ..schemas.users import UserQuery, UserSchema, UserUpdateSchema
from ..services import users
from . import bp, doc, json_body, page, query_args


@bp.get("/users")
@doc("Users, filtered by squad, role or name", query=UserQuery, response=UserSchema, many=True, tag="users")
def users_list():
    args = query_args(UserQuery())
    rows, cursor = users.list_users(db.session, **args)
    return page(rows, cursor, UserSchema())


@bp.get("/users/<int:user_id>")
@doc("One user", response=UserSchema, tag="users")
def users_get(user_id):
    return UserSchema().dump(users.get_user(db.session, user_id))


@bp.post("/users")
@doc("Create a user", body=UserSchema, response=UserSchema, status=201, tag="users")
def users_create():
    values = json_body(UserSchema())
    with transaction() as session:
        user = users.create_user(session, current_user(), values, now=now())
    return UserSchema().dump(user), 201


@bp.patch("/users/<int:user_id>")
@doc("Change, disable or re-password a user", body=UserUpdateSchema, response=UserSchema, tag="users")
def users_update(user_id):
    values = json_body(UserUpdateSchema(), partial=True)
    with transaction() as session:
        user = users.update_user(session, current_user(), user_id, values, now=now())
    return UserSchema().dump(user)
