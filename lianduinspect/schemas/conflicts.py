"""Kept records (冲突记录) on the wire: the list, one in full, and resolving it."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..models import CONFLICT_REASONS
from ..services.conflicts import RESOLUTION_MAX, STATES
from .reviews import PersonView, ReviewQueueItem


class ConflictQuery(Schema):
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    state = fields.String(load_default="open", validate=validate.OneOf(STATES))
    squad_id = fields.Integer(load_default=None)


class ConflictItem(Schema):
    id = fields.Integer()
    uuid = fields.String()
    reason = fields.String(allow_none=True, validate=validate.OneOf(CONFLICT_REASONS))  # null: kept before 0002
    state = fields.String()  # open | resolved
    received_at = fields.DateTime()
    submitted_by = fields.Nested(PersonView, allow_none=True)
    visit_id = fields.Integer(allow_none=True)
    target = fields.Dict(allow_none=True)  # {id, name, credit_code}
    squad = fields.Dict(allow_none=True)  # {id, name}
    standing = fields.Nested(ReviewQueueItem, allow_none=True)  # the record that stands, as the queue lists it
    resolved_at = fields.DateTime(allow_none=True)
    resolved_by = fields.Nested(PersonView, allow_none=True)
    resolution = fields.String(allow_none=True)


class ConflictRecord(ConflictItem):
    body = fields.Dict()  # the kept body, as normalised on arrival (times in UTC, results by item)
    # what the kept body changes from the standing record, as a review's diff: {previous_id,
    # previous_revision, fields: {name: {from, to}}, items: [...], scene_photos: {added, removed}}
    diff = fields.Dict(allow_none=True)
    item_labels = fields.Dict()  # {item_id: "code text"} for the items the diff names


class ConflictResolveBody(Schema):
    resolution = fields.String(required=True, validate=validate.Length(min=1, max=RESOLUTION_MAX))
