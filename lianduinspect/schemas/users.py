"""Users on the wire; the password hash never leaves the server."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..models import ROLES


class UserSchema(Schema):
    id = fields.Integer(dump_only=True)
    username = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_.-]{2,63}$"))
    full_name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True,
                        validate=validate.Length(min=1, max=4))
    department = fields.String(allow_none=True, load_default=None, attribute="department_code",
                               data_key="department", validate=validate.Length(min=1, max=16))
    squad_id = fields.Integer(allow_none=True, load_default=None)
    certificate_no = fields.String(allow_none=True, load_default=None,
                                   validate=validate.Regexp(r"^[0-9A-Z]{6,32}$"))
    phone = fields.String(allow_none=True, load_default=None, validate=validate.Regexp(r"^[0-9+\- ]{5,32}$"))
    active = fields.Boolean(load_default=True)
    password = fields.String(load_only=True, required=True, validate=validate.Length(min=10, max=256))


class UserUpdateSchema(UserSchema):
    """A partial change: every field optional, the same rules."""

    class Meta:
        exclude = ("username",)


class UserQuery(Schema):
    cursor = fields.String(load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    squad_id = fields.Integer(load_default=None)
    role = fields.String(load_default=None, validate=validate.OneOf(ROLES))
    q = fields.String(load_default=None, validate=validate.Length(max=64))
