"""Sign-in on the wire."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .users import UserSchema


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256), load_only=True)


class MeSchema(Schema):
    user = fields.Nested(UserSchema)
    csrf_token = fields.String()
