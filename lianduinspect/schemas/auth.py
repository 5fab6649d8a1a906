"""Sign-in on the wire."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .pack import PackSchema
from .users import UserSchema


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256), load_only=True)


class LoginQuery(Schema):
    # "pack": a field user's offline pack comes with the answer (the PWA's first screen, one round trip fewer)
    include = fields.String(load_default=None, validate=validate.OneOf(["pack"]))


class MeSchema(Schema):
    user = fields.Nested(UserSchema)
    csrf_token = fields.String()


class LoginAnswerSchema(MeSchema):
    # Null unless ?include=pack and the user may read GET /pack; then what GET /pack answers, and the ETag
    # (quoted, as in its header) to send back in If-None-Match.
    pack = fields.Nested(PackSchema, allow_none=True)
    pack_etag = fields.String(allow_none=True)
