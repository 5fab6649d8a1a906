"""Rectifications (整改) on the wire."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..models import RECTIFICATION_STATUSES


class RectificationListQuery(Schema):
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    status = fields.String(load_default=None, validate=validate.OneOf(RECTIFICATION_STATUSES))
    overdue = fields.Boolean(load_default=None)
    escalated = fields.Boolean(load_default=None)
    lookback = fields.Boolean(load_default=None)
    squad_id = fields.Integer(load_default=None)
    target_id = fields.Integer(load_default=None)


class RectificationItem(Schema):
    id = fields.Integer(dump_only=True)
    inspection_id = fields.Integer(dump_only=True)
    item = fields.Function(lambda r: {"id": r.item.id, "code": r.item.code, "text": r.item.text,
                                      "legal_basis": r.item.legal_basis, "severity": r.item.severity,
                                      "department": r.item.department.short}, dump_only=True)
    target = fields.Function(lambda r: {"id": r.target.id, "name": r.target.name, "address": r.target.address},
                             dump_only=True)
    squad_id = fields.Integer(dump_only=True)
    status = fields.String(dump_only=True)
    deadline = fields.DateTime(dump_only=True)
    overdue = fields.Boolean(dump_only=True)  # not closed a week after the deadline
    reinspection_visit_id = fields.Integer(dump_only=True, allow_none=True)
    before_sha256 = fields.String(dump_only=True, allow_none=True)
    after_sha256 = fields.String(dump_only=True, allow_none=True)
    escalated_at = fields.DateTime(dump_only=True, allow_none=True)
    lookback = fields.Boolean(dump_only=True)  # drawn for a look-back (回头看)
    opened_at = fields.DateTime(dump_only=True)
    closed_at = fields.DateTime(dump_only=True, allow_none=True)


class RectificationDeadlineBody(Schema):
    deadline = fields.AwareDateTime(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=2, max=500))


class RectificationCloseBody(Schema):
    after_sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-fA-F]{64}$"))
