"""Rounds (检查轮次) and their visits (检查任务) on the wire."""
from __future__ import annotations

from datetime import timezone

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..models import ROUND_STATUSES, ROUND_KINDS, RISKS

AD_HOC_KINDS = ("complaint", "campaign")
Reason = lambda: fields.String(required=True, validate=validate.Regexp(r"\S", error="Give a reason."))  # noqa: E731
_UNIQUE_IDS = "List each id once."


def _unique(values):
    if len(set(values)) != len(values):
        raise ValidationError(_UNIQUE_IDS)


class RoundQuery(Schema):
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    squad_id = fields.Integer(load_default=None)
    scene_id = fields.Integer(load_default=None)
    period = fields.String(load_default=None, validate=validate.Length(min=4, max=16))
    status = fields.String(load_default=None, validate=validate.OneOf(ROUND_STATUSES))
    kind = fields.String(load_default=None, validate=validate.OneOf(ROUND_KINDS))


class RoundWindowSchema(Schema):
    start = fields.AwareDateTime(required=True, default_timezone=timezone.utc)
    end = fields.AwareDateTime(required=True, default_timezone=timezone.utc)

    @validates_schema
    def _ends_after_start(self, data, **_):
        if data["end"] <= data["start"]:
            raise ValidationError("The window must end after it starts.", "end")


class RoundCreateSchema(Schema):
    """An ad-hoc round: a complaint (exempt from the monthly cap) or a special campaign."""

    kind = fields.String(required=True, validate=validate.OneOf(AD_HOC_KINDS))
    scene_id = fields.Integer(required=True)
    squad_id = fields.Integer(required=True)
    title = fields.String(required=True, validate=validate.Length(min=2, max=128))
    window = fields.Nested(RoundWindowSchema, required=True)
    target_ids = fields.List(fields.Integer(), required=True,
                             validate=[validate.Length(min=1, max=500), _unique])
    user_ids = fields.List(fields.Integer(), required=True, validate=[validate.Length(min=1, max=20), _unique])
    # Why the team goes back to a target one of them inspected last time (回避); needed only then.
    team_reason = fields.String(load_default=None, validate=validate.Regexp(r"\S", error="Give a reason."))


class RoundTeamSchema(Schema):
    user_ids = fields.List(fields.Integer(), required=True, validate=[validate.Length(min=1, max=20), _unique])
    reason = Reason()


class RoundCancelSchema(Schema):
    reason = Reason()


class VisitMarkSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(("unreachable", "skipped")))
    reason = Reason()


class RoundProgressSchema(Schema):
    total = fields.Integer()
    pending = fields.Integer()
    inspected = fields.Integer()
    unreachable = fields.Integer()
    skipped = fields.Integer()
    overdue = fields.Integer()  # pending visits past a window's end


class RoundVisitTargetSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    credit_code = fields.String()
    category = fields.String()
    area_id = fields.Integer()
    address = fields.String()
    lat = fields.Float()
    lon = fields.Float()
    risk = fields.String(validate=validate.OneOf(RISKS))


class RoundVisitSchema(Schema):
    id = fields.Integer()
    code = fields.String()  # 检查码, shown to the enterprise
    status = fields.String()
    reason = fields.String(allow_none=True)
    planned_month = fields.String()
    exemption = fields.String(allow_none=True)  # why the monthly cap did not apply
    overdue = fields.Boolean()
    planned_by_round_id = fields.Integer()
    round_ids = fields.List(fields.Integer())  # more than one: a joint visit
    joint = fields.Boolean()
    target = fields.Nested(RoundVisitTargetSchema)
    updated_at = fields.DateTime()


def _member(user) -> dict:
    return {"id": user.id, "full_name": user.full_name, "department": user.department_code,
            "certificate_no": user.certificate_no}


def _draw_summary(rnd) -> dict | None:
    """Return what a leader needs to know about a round's draw (the full inputs stay server-side)."""
    stored = rnd.draw
    if not stored:
        return None
    targets = stored.get("targets") or {}
    team = stored.get("team") or {}
    return {
        "method": stored.get("method"),  # generated | chosen
        "month_key": stored.get("month_key"),
        "rule": stored.get("rule"),
        "candidates": len(stored.get("candidates") or ()),
        "eligible_count": targets.get("eligible_count"),
        "sample_size": targets.get("sample_size"),
        "picks": targets.get("picks"),
        "exemptions": targets.get("exemptions"),
        "joined": targets.get("joined"),
        "drawn_team": team.get("members"),
        "uncovered_departments": team.get("uncovered"),
        "rotation_relaxed": team.get("rotation_relaxed") or [],  # who goes back to which targets
        "team_unavailable": team.get("unavailable"),
        "target_digest": targets.get("digest"),
        "team_digest": team.get("digest"),
    }


class RoundSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    status = fields.String()
    title = fields.String(allow_none=True)
    scene = fields.Function(lambda r: {"id": r.scene_id, "code": r.scene_version.scene.code,
                                       "name": r.scene_version.name, "version": r.scene_version.version,
                                       "category": r.scene_version.category})
    squad = fields.Function(lambda r: {"id": r.squad.id, "code": r.squad.code, "name": r.squad.name})
    period_key = fields.String()
    window = fields.Function(lambda r: {"start": r.window_start.isoformat(), "end": r.window_end.isoformat()})
    team = fields.Function(lambda r: [_member(u) for u in r.members])
    progress = fields.Nested(RoundProgressSchema)
    seed = fields.String(allow_none=True)
    algorithm_version = fields.String(allow_none=True)
    candidates_digest = fields.String(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()
    created_by_id = fields.Integer(allow_none=True)


class RoundDetailSchema(RoundSchema):
    visits = fields.List(fields.Nested(RoundVisitSchema), attribute="visit_rows")
    draw = fields.Function(_draw_summary)
