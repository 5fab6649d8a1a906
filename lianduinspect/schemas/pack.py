"""The offline pack on the wire: rounds, visits with merged checklists, targets, items, rectifications."""
from __future__ import annotations

from marshmallow import Schema, fields


class DepartmentRefSchema(Schema):
    code = fields.String()
    name = fields.String()


class TeamMemberSchema(Schema):
    id = fields.Integer()
    full_name = fields.String()
    certificate_no = fields.String(allow_none=True)
    department = fields.Nested(DepartmentRefSchema, allow_none=True)


class SceneRefSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    version = fields.Integer()
    version_id = fields.Integer()


class WindowSchema(Schema):
    start = fields.DateTime()
    end = fields.DateTime()


class PackRoundSchema(Schema):
    id = fields.Integer()
    scene = fields.Nested(SceneRefSchema)
    squad_id = fields.Integer()
    period = fields.String()
    kind = fields.String()
    status = fields.String()
    title = fields.String(allow_none=True)
    window = fields.Nested(WindowSchema)
    team = fields.List(fields.Nested(TeamMemberSchema))


class ChecklistGroupSchema(Schema):
    department = fields.Nested(DepartmentRefSchema)
    item_ids = fields.List(fields.Integer())


class PackVisitSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    status = fields.String()
    target_id = fields.Integer()
    round_ids = fields.List(fields.Integer())  # every round this (possibly joint) visit serves
    planned_month = fields.String()
    overdue = fields.Boolean()
    skip_reason = fields.String(allow_none=True)
    checklist = fields.List(fields.Nested(ChecklistGroupSchema))  # merged, grouped per department


class PackTargetSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    credit_code = fields.String()
    category = fields.String()
    area = fields.String()
    address = fields.String()
    lat = fields.Float()
    lon = fields.Float()
    risk = fields.String()
    contact_name = fields.String(allow_none=True)
    contact_phone = fields.String(allow_none=True)


class PackItemSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    department = fields.Nested(DepartmentRefSchema)
    text = fields.String()
    legal_basis = fields.String()
    severity = fields.String()
    photo_required_on_fail = fields.Boolean()


class PackSceneVersionSchema(Schema):
    id = fields.Integer()
    scene_id = fields.Integer()
    scene_code = fields.String()
    version = fields.Integer()
    name = fields.String()
    category = fields.String()
    items = fields.List(fields.Nested(PackItemSchema))


class ItemRefSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    text = fields.String()


class PackRectificationSchema(Schema):
    id = fields.Integer()
    target_id = fields.Integer()
    item = fields.Nested(ItemRefSchema)
    deadline = fields.DateTime()
    status = fields.String()
    opened_at = fields.DateTime()


class PackInspectionSchema(Schema):
    visit_id = fields.Integer()
    uuid = fields.String()
    revision = fields.Integer()
    status = fields.String()
    outcome = fields.String()
    evidence_complete = fields.Boolean()


class PackItemCommentSchema(Schema):
    item_id = fields.Integer()
    comment = fields.String()


class PackReviewCommentSchema(Schema):
    inspection_id = fields.Integer()
    inspection_uuid = fields.String()
    visit_id = fields.Integer()
    revision = fields.Integer()
    decision = fields.String()
    reason = fields.String(allow_none=True)
    reviewed_at = fields.String()
    item_comments = fields.List(fields.Nested(PackItemCommentSchema))


class PackSchema(Schema):
    rounds = fields.List(fields.Nested(PackRoundSchema))
    visits = fields.List(fields.Nested(PackVisitSchema))
    targets = fields.List(fields.Nested(PackTargetSchema))
    scene_versions = fields.List(fields.Nested(PackSceneVersionSchema))
    rectifications = fields.List(fields.Nested(PackRectificationSchema))
    inspections = fields.List(fields.Nested(PackInspectionSchema))  # the user's own, latest revision per visit
    review_comments = fields.List(fields.Nested(PackReviewCommentSchema))  # decisions awaiting a correction
