"""Scenes and their versioned checklists on the wire."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..models import CADENCES, SAMPLE_KINDS, SEVERITIES


class ItemSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$"))
    department = fields.String(required=True, validate=validate.Length(min=1, max=16))
    text = fields.String(required=True, validate=validate.Length(min=2, max=500))
    legal_basis = fields.String(required=True, validate=validate.Length(min=2, max=500))
    severity = fields.String(required=True, validate=validate.OneOf(SEVERITIES))
    photo_required_on_fail = fields.Boolean(load_default=True)


class SampleSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(SAMPLE_KINDS))
    value = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100000))

    @validates_schema
    def _value_fits_kind(self, data, **_):
        if data["kind"] == "percent" and not 1 <= data["value"] <= 100:
            raise ValidationError("A percentage is 1 to 100.", "value")
        if data["kind"] == "fixed" and data["value"] < 1:
            raise ValidationError("A fixed sample draws at least one.", "value")


class SceneVersionInSchema(Schema):
    """What an admin sends to create a scene or a new version of it."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    category = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{1,31}$"))
    cadence = fields.String(required=True, validate=validate.OneOf(CADENCES))
    sample = fields.Nested(SampleSchema, required=True)
    departments = fields.List(fields.String(validate=validate.Length(min=1, max=16)), required=True,
                              validate=validate.Length(min=1, max=8))
    items = fields.List(fields.Nested(ItemSchema), required=True, validate=validate.Length(min=1, max=200))
    active = fields.Boolean(load_default=True)

    @validates_schema
    def _items_belong_to_departments(self, data, **_):
        if len(set(data["departments"])) != len(data["departments"]):
            raise ValidationError("A department is listed twice.", "departments")
        codes = [i["code"] for i in data["items"]]
        if len(set(codes)) != len(codes):
            raise ValidationError("Item codes must be unique within a scene.", "items")
        outside = sorted({i["department"] for i in data["items"]} - set(data["departments"]))
        if outside:
            raise ValidationError(f"Items name departments not taking part: {outside}", "items")


class SceneCreateSchema(SceneVersionInSchema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{1,31}$"))


class SceneVersionSchema(Schema):
    id = fields.Integer()
    version = fields.Integer()
    name = fields.String()
    category = fields.String()
    cadence = fields.String()
    sample = fields.Function(lambda v: {"kind": v.sample_kind, "value": v.sample_value})
    departments = fields.List(fields.String())
    created_at = fields.DateTime()
    items = fields.Function(lambda v: [
        {"id": i.id, "code": i.code, "department": i.department.code, "text": i.text,
         "legal_basis": i.legal_basis, "severity": i.severity,
         "photo_required_on_fail": i.photo_required_on_fail} for i in v.items])


class SceneSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    active = fields.Boolean()
    current_version = fields.Integer()
    current = fields.Function(lambda s: SceneVersionSchema().dump(s.versions[s.current_version - 1]))
