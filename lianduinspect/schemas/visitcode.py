"""The public visit code page (检查码) and evaluations on the wire."""
from __future__ import annotations

from marshmallow import Schema, fields, validate


class WindowView(Schema):
    start = fields.DateTime()
    end = fields.DateTime()


class PublicVisit(Schema):
    code = fields.String()
    registered = fields.Boolean()  # false: the visit was skipped or its rounds cancelled
    status = fields.String()  # pending | inspected | unreachable | cancelled
    target = fields.Dict()  # {name, address}
    scenes = fields.List(fields.Dict())  # [{name, departments: [name]}]
    departments = fields.List(fields.String())
    window = fields.Nested(WindowView)
    inspected_at = fields.DateTime(allow_none=True)
    inspectors = fields.List(fields.Dict())  # [{full_name, certificate_no, department}]
    items = fields.List(fields.Dict())  # [{text, legal_basis, department}]
    accepting_evaluations = fields.Boolean()


class PublicEvaluationBody(Schema):
    rating = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=5))
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class EvaluationReceipt(Schema):
    received = fields.Boolean()


class EvaluationSummary(Schema):
    scope = fields.String()  # squad (a leader's own) | all
    squad_id = fields.Integer()
    minimum = fields.Integer()
    until = fields.Date()  # squad scope: completed months only, before this day
    enough = fields.Boolean()
    message = fields.String()
    count = fields.Integer()
    average = fields.Float()
    distribution = fields.Dict()  # {"1".."5": count}
    months = fields.List(fields.Dict())  # squad scope: [{month, count, average, distribution} or {month, enough}]
    total = fields.Dict()
    squads = fields.List(fields.Dict())  # all scope: [{squad_id, name, count, average, distribution}]
    departments = fields.List(fields.Dict())  # all scope: [{code, name, count, average, distribution}]


class EvaluationCommentsQuery(Schema):
    squad_id = fields.Integer(load_default=None)
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class EvaluationComment(Schema):
    id = fields.Integer()
    rating = fields.Integer()
    comment = fields.String()
    created_on = fields.Date()
    visit_id = fields.Integer()
    target = fields.Dict()
    squad = fields.Dict()
    scenes = fields.List(fields.String())
