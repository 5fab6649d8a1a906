"""Targets (检查对象) on the wire."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..models import RISKS
from .common import validate_credit_code


class TargetSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=2, max=128))
    credit_code = fields.String(required=True, validate=validate_credit_code)
    category = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{1,31}$"))
    area_id = fields.Integer(required=True)
    area = fields.Function(lambda t: {"id": t.area.id, "code": t.area.code, "name": t.area.name}, dump_only=True)
    address = fields.String(required=True, validate=validate.Length(min=2, max=255))
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    risk = fields.String(load_default="low", validate=validate.OneOf(RISKS))
    contact_name = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=64))
    contact_phone = fields.String(allow_none=True, load_default=None,
                                  validate=validate.Regexp(r"^[0-9+\- ]{5,32}$"))
    active = fields.Boolean(load_default=True)
    updated_at = fields.DateTime(dump_only=True)


class TargetQuery(Schema):
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    area_id = fields.Integer(load_default=None)
    category = fields.String(load_default=None, validate=validate.Length(max=32))
    risk = fields.String(load_default=None, validate=validate.OneOf(RISKS))
    active = fields.Boolean(load_default=None)
    q = fields.String(load_default=None, validate=validate.Length(min=1, max=64))


class ImportRowSchema(Schema):
    row = fields.Integer()
    status = fields.String()  # created | updated | unchanged | error
    credit_code = fields.String(allow_none=True)
    target_id = fields.Integer(allow_none=True)
    errors = fields.Dict(allow_none=True)


class ImportResultSchema(Schema):
    summary = fields.Dict()
    rows = fields.List(fields.Nested(ImportRowSchema))
