"""The visit code (检查码): the public page and its API, and evaluation aggregates for the squads."""
from __future__ import annotations

from flask import Blueprint, current_app, request, send_from_directory

from ..auth import current_user, now
from ..db import db, transaction
from ..errors import ApiError
from ..schemas.visitcode import (EvaluationComment, EvaluationCommentsQuery, EvaluationReceipt, EvaluationSummary,
                                 PublicEvaluationBody, PublicVisit)
from ..services import visitcode
from . import bp, doc, json_body, page, query_args

# The page the code's QR points at: /v/<code>, outside /api/v1 (registered in create_app).
page_bp = Blueprint("visitpage", __name__)


def _throttle(code: str) -> None:
    """Count this request per client address and per code (committed even when refused)."""
    with transaction() as session:
        wait = visitcode.throttle(session, request.remote_addr, code, now=now(),
                                  limit=current_app.config["PUBLIC_RATE_PER_MINUTE"])
    if wait:
        raise ApiError("rate_limited", details={"retry_after": wait})


@bp.get("/public/visits/<code>")
@doc("What the holder of a visit code may see: scenes, departments, window, team, items (no sign-in)",
     response=PublicVisit, tag="visit code")
def public_visit(code):
    _throttle(code)
    return PublicVisit().dump(visitcode.public_visit(db.session, code))


@bp.post("/public/visits/<code>/evaluations")
@doc("Rate a visit anonymously (1-5, a comment of at most 500 characters; no sign-in)",
     body=PublicEvaluationBody, response=EvaluationReceipt, status=201, tag="visit code")
def public_evaluate(code):
    _throttle(code)
    values = json_body(PublicEvaluationBody())
    with transaction() as session:
        visitcode.evaluate(session, code, values, now=now())
    return EvaluationReceipt().dump({"received": True}), 201


@bp.get("/evaluations/summary")
@doc("Evaluation aggregates: a leader's own squad (five or more), per squad and department for oversight",
     response=EvaluationSummary, tag="visit code")
def evaluations_summary():
    return EvaluationSummary().dump(visitcode.summary(db.session, current_user(), now=now()))


@bp.get("/evaluations/comments")
@doc("Written evaluations with their visit, squad and scenes (supervisors and admins only)",
     query=EvaluationCommentsQuery, response=EvaluationComment, many=True, tag="visit code")
def evaluations_comments():
    rows, cursor = visitcode.comments(db.session, **query_args(EvaluationCommentsQuery()))
    return page(rows, cursor, EvaluationComment())


@page_bp.get("/v/<code>")
def show(code):
    """Serve the visit code page; its script asks the API, which says when a code is unknown."""
    response = send_from_directory(current_app.static_folder, "visit.html", mimetype="text/html")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"  # the code is in the URL
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'")
    return response
