"""Departments, areas and squads on the wire."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .common import Name


class DepartmentSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{1,15}$"))
    name = Name(required=True)
    short = Name(required=True, max=16)


class AreaSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{1,31}$"))
    name = Name(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["街道", "镇", "乡"]))
    mode = fields.String(required=True, validate=validate.OneOf(["赋权", "派驻", "辐射"]))
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(required=True, validate=validate.Range(min=-180, max=180))


class SquadMemberSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    full_name = fields.String()
    roles = fields.List(fields.String())
    department = fields.Function(lambda u: u.department.code if u.department else None)
    certificate_no = fields.String()


class SquadSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{1,31}$"))
    name = Name(required=True)
    area_ids = fields.List(fields.Integer(), required=True, validate=validate.Length(min=1, max=20),
                           load_only=True)
    areas = fields.Function(lambda s: [{"id": a.id, "code": a.code, "name": a.name} for a in s.areas],
                            dump_only=True)


class SquadDetailSchema(SquadSchema):
    members = fields.Function(lambda s: SquadMemberSchema(many=True).dump([m for m in s.members if m.active]),
                              dump_only=True)
