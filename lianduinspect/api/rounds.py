"""Rounds (检查轮次): leaders follow and adjust them; inspectors read the ones they are on."""
from __future__ import annotations

from ..auth import current_user, now
from ..db import db, transaction
from ..schemas.rounds import (RoundCancelSchema, RoundCreateSchema, RoundDetailSchema, RoundQuery, RoundSchema,
                              RoundTeamSchema, VisitMarkSchema, RoundVisitSchema)
from ..services import rounds
from . import bp, doc, json_body, page, query_args


@bp.get("/rounds")
@doc("Rounds the caller may see, with progress; filter by squad, scene, period, status or kind",
     query=RoundQuery, response=RoundSchema, many=True, tag="rounds")
def rounds_list():
    rows, cursor = rounds.list_rounds(db.session, current_user(), **query_args(RoundQuery()))
    return page(rows, cursor, RoundSchema())


@bp.get("/rounds/<int:round_id>")
@doc("One round with its visits, team, progress and draw", response=RoundDetailSchema, tag="rounds")
def rounds_get(round_id):
    return RoundDetailSchema().dump(rounds.get_round(db.session, current_user(), round_id))


@bp.post("/rounds")
@doc("Add an ad-hoc round (complaint or campaign) with chosen targets and team", body=RoundCreateSchema,
     response=RoundDetailSchema, status=201, tag="rounds")
def rounds_create():
    values = json_body(RoundCreateSchema())
    with transaction() as session:
        rnd = rounds.create_round(session, current_user(), values, now=now())
    return RoundDetailSchema().dump(rnd), 201


@bp.put("/rounds/<int:round_id>/team")
@doc("Replace a round's team, with a reason", body=RoundTeamSchema, response=RoundDetailSchema, tag="rounds")
def rounds_team(round_id):
    rounds.check_round_write(db.session, current_user(), round_id)  # 404/403 before the body is judged
    values = json_body(RoundTeamSchema())
    with transaction() as session:
        rnd = rounds.change_team(session, current_user(), round_id, values, now=now())
    return RoundDetailSchema().dump(rnd)


@bp.post("/rounds/<int:round_id>/cancel")
@doc("Cancel a round, with a reason; its pending visits are skipped", body=RoundCancelSchema,
     response=RoundDetailSchema, tag="rounds")
def rounds_cancel(round_id):
    rounds.check_round_write(db.session, current_user(), round_id)
    values = json_body(RoundCancelSchema())
    with transaction() as session:
        rnd = rounds.cancel_round(session, current_user(), round_id, values, now=now())
    return RoundDetailSchema().dump(rnd)


@bp.patch("/visits/<int:visit_id>")
@doc("Mark a pending visit unreachable or skipped, with a reason", body=VisitMarkSchema, response=RoundVisitSchema,
     tag="rounds")
def rounds_visit_update(visit_id):
    rounds.check_visit_write(db.session, current_user(), visit_id)
    values = json_body(VisitMarkSchema())
    with transaction() as session:
        visit = rounds.mark_visit(session, current_user(), visit_id, values, now=now())
    return RoundVisitSchema().dump(visit)
