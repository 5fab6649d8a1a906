"""Review (审核), the review queue and reports on the wire."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..models import DECISIONS, INSPECTION_STATUSES
from ..rules import periods


def validate_period(value: str) -> None:
    """Refuse a period key that is not 2023-04, 2023-Q2, 2023-H1 or 2023."""
    try:
        periods.parse_period(value)
    except ValueError as err:
        raise ValidationError(str(err)) from None


class ReviewQueueQuery(Schema):
    cursor = fields.String(load_default=None, validate=validate.Length(max=300))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    squad_id = fields.Integer(load_default=None)
    scene_id = fields.Integer(load_default=None)
    period = fields.String(load_default=None, validate=validate_period)
    flagged = fields.Boolean(load_default=None)
    status = fields.String(load_default="submitted", validate=validate.OneOf(INSPECTION_STATUSES))


class PersonView(Schema):
    id = fields.Integer()
    full_name = fields.String()
    certificate_no = fields.String(allow_none=True)
    department = fields.String(allow_none=True)


class ReviewQueueItem(Schema):
    id = fields.Integer()
    uuid = fields.String()
    visit_id = fields.Integer()
    revision = fields.Integer()
    status = fields.String()
    outcome = fields.String()
    target = fields.Dict()  # {id, name, credit_code}
    squad = fields.Dict()  # {id, name}
    scenes = fields.List(fields.Dict())  # [{id, name, round_id, period_key}]
    inspectors = fields.List(fields.Nested(PersonView))
    flags_count = fields.Integer(allow_none=True)  # null: not computed yet
    evidence_complete = fields.Boolean()
    started_at = fields.DateTime()
    finished_at = fields.DateTime()
    received_at = fields.DateTime()


class FlagView(Schema):
    code = fields.String()
    photo = fields.String(allow_none=True)  # the photo's SHA-256; null for the record itself
    values = fields.Dict()


class EvidenceView(Schema):
    format = fields.String()
    width = fields.Integer()
    height = fields.Integer()
    size = fields.Integer()
    phash = fields.String(allow_none=True)
    uploaded_at = fields.DateTime()
    facts = fields.Dict()  # EXIF: captured_at (local), gps_lat/lon, make, model, software, ...


class PhotoView(Schema):
    sha256 = fields.String()
    item_id = fields.Integer(allow_none=True)
    captured_at = fields.DateTime(allow_none=True)  # the phone's clock
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    accuracy_m = fields.Float(allow_none=True)
    evidence = fields.Nested(EvidenceView, allow_none=True)  # null: not uploaded yet
    flags = fields.List(fields.Nested(FlagView))


class ResultView(Schema):
    item_id = fields.Integer()
    code = fields.String(allow_none=True)
    text = fields.String(allow_none=True)
    legal_basis = fields.String(allow_none=True)
    severity = fields.String(allow_none=True)
    department = fields.String(allow_none=True)
    result = fields.String()
    note = fields.String(allow_none=True)
    photos = fields.List(fields.String())


class RoundView(Schema):
    id = fields.Integer()
    kind = fields.String()
    period_key = fields.String()
    scene_id = fields.Integer()
    scene = fields.String()
    window_start = fields.DateTime()
    window_end = fields.DateTime()
    created_at = fields.DateTime()


class ReviewView(Schema):
    id = fields.Integer()
    decision = fields.String()
    reason = fields.String(allow_none=True)
    item_comments = fields.Dict()  # {item_id: comment}
    created_at = fields.DateTime()
    reviewer = fields.Dict()  # {id, full_name}


class RectificationBrief(Schema):
    id = fields.Integer()
    item_id = fields.Integer()
    status = fields.String()
    deadline = fields.DateTime()


class ReviewRecord(ReviewQueueItem):
    visit = fields.Dict()  # {id, status, planned_month, exemption}
    rounds = fields.List(fields.Nested(RoundView))
    submitted_by = fields.Nested(PersonView, allow_none=True)
    location = fields.Dict(allow_none=True)  # {lat, lon, accuracy_m}
    notes = fields.String(allow_none=True)
    late_reason = fields.String(allow_none=True)
    results = fields.List(fields.Nested(ResultView))
    photos = fields.List(fields.Nested(PhotoView))
    scene_photos = fields.List(fields.String())
    evidence_missing = fields.List(fields.String())
    flags = fields.List(fields.Nested(FlagView))
    reviews = fields.List(fields.Nested(ReviewView))
    rectifications = fields.List(fields.Nested(RectificationBrief))
    # {previous_id, previous_revision, fields: {name: {from, to}}, items: [{item_id, result?, note?, photos?}],
    #  scene_photos: {added, removed}}; null for a first revision
    diff = fields.Dict(allow_none=True)


class ReviewDecisionBody(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    item_comments = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^[0-9]{1,12}$")),
                                values=fields.String(validate=validate.Length(max=1000)), load_default=dict)

    @validates_schema
    def _reason_unless_approved(self, data, **_kwargs):
        if data.get("decision") not in (None, "approved") and not (data.get("reason") or "").strip():
            raise ValidationError("Give a reason unless approving.", "reason")


class ReviewDecision(Schema):
    id = fields.Integer(dump_only=True)
    inspection_id = fields.Integer(dump_only=True)
    decision = fields.String(dump_only=True)
    reason = fields.String(dump_only=True, allow_none=True)
    item_comments = fields.Dict(dump_only=True, allow_none=True)
    reviewer_id = fields.Integer(dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class BulkApproveBody(Schema):
    inspection_ids = fields.List(fields.Integer(strict=True), required=True, validate=validate.Length(min=1, max=200))


class BulkApproveRow(Schema):
    inspection_id = fields.Integer()
    result = fields.String()  # approved | skipped
    reason = fields.String()  # not_found | state | evidence_incomplete | flagged (when skipped)
    status = fields.String()  # with reason "state": the revision's status
    flags = fields.List(fields.String())  # with reason "flagged": the flag codes
    review_id = fields.Integer()


class BulkApproveResult(Schema):
    approved = fields.Integer()
    skipped = fields.Integer()
    results = fields.List(fields.Nested(BulkApproveRow))


class ReportQuery(Schema):
    period = fields.String(load_default=None, validate=validate_period)
    squad_id = fields.Integer(load_default=None)


class ReportSummary(Schema):
    period = fields.String(allow_none=True)
    squad_id = fields.Integer(allow_none=True)
    approved = fields.Integer()
    by_outcome = fields.Dict()  # {pass, rectify, refer}
    by_scene = fields.List(fields.Dict())  # [{scene_id, name, approved}]
    by_department = fields.List(fields.Dict())  # [{code, name, inspections, items_checked, items_failed}]
    rectifications = fields.Dict()  # {open, reinspection_planned, closed, overdue, escalated}
