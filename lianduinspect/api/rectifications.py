"""Rectifications (整改 → 复查 → 销号): the list, a leader's deadline change, closing with an after photo."""
from __future__ import annotations

from flask import current_app

from ..auth import current_user, now
from ..db import db, transaction
from ..schemas.rectifications import (RectificationCloseBody, RectificationDeadlineBody, RectificationItem,
                                      RectificationListQuery)
from ..services import rectifications
from . import bp, doc, json_body, page, query_args


@bp.get("/rectifications")
@doc("Rectifications of the caller's squad (all for supervisors and admins), filtered",
     query=RectificationListQuery, response=RectificationItem, many=True, tag="rectifications")
def rectifications_list():
    rows, cursor = rectifications.list_rectifications(db.session, current_user(), now=now(),
                                                      **query_args(RectificationListQuery()))
    return page(rows, cursor, RectificationItem())


@bp.patch("/rectifications/<int:rect_id>")
@doc("Move an open rectification's deadline, with a reason (the squad's leader)", body=RectificationDeadlineBody,
     response=RectificationItem, tag="rectifications")
def rectifications_update(rect_id):
    rectifications.get_rectification(db.session, current_user(), rect_id)  # 404 before the body: no probing
    values = json_body(RectificationDeadlineBody())
    with transaction() as session:
        rect = rectifications.change_deadline(session, current_user(), rect_id, values, now=now())
    return RectificationItem().dump(rect)


@bp.post("/rectifications/<int:rect_id>/close")
@doc("Close (销号) with an after photo that is not the before photo again", body=RectificationCloseBody,
     response=RectificationItem, tag="rectifications")
def rectifications_close(rect_id):
    rectifications.get_rectification(db.session, current_user(), rect_id)  # 404 before the body: no probing
    values = json_body(RectificationCloseBody())
    with transaction() as session:
        rect = rectifications.close(session, current_user(), rect_id, values, now=now(), config=current_app.config)
    return RectificationItem().dump(rect)
