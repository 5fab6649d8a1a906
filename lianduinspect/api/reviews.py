"""Supervision (审核): the review queue, the full record, decisions, bulk approval, and reports."""
from __future__ import annotations

from flask import current_app

from ..auth import current_user, now
from ..db import db, transaction
from ..schemas.reviews import (BulkApproveBody, BulkApproveResult, ReportQuery, ReportSummary, ReviewDecision,
                               ReviewDecisionBody, ReviewQueueItem, ReviewQueueQuery, ReviewRecord)
from ..services import reviews
from . import bp, doc, json_body, page, query_args


@bp.get("/reviews/queue")
@doc("Revisions awaiting review: evidence-complete first, then the oldest", query=ReviewQueueQuery,
     response=ReviewQueueItem, many=True, tag="reviews")
def reviews_queue():
    rows, cursor = reviews.queue(db.session, current_user(), **query_args(ReviewQueueQuery()))
    return page(rows, cursor, ReviewQueueItem())


@bp.get("/reviews/inspections/<int:inspection_id>")
@doc("One revision in full: photos, their facts and flags, and what changed since the last revision",
     response=ReviewRecord, tag="reviews")
def reviews_get(inspection_id):
    # A write when the flags were never computed: computed once, stored, then shown.
    with transaction() as session:
        record = reviews.get_record(session, current_user(), inspection_id, now=now(), config=current_app.config)
    return ReviewRecord().dump(record)


@bp.post("/inspections/<int:inspection_id>/reviews")
@doc("Approve, reject or ask for evidence; only a submitted revision can be decided", body=ReviewDecisionBody,
     response=ReviewDecision, status=201, tag="reviews")
def reviews_create(inspection_id):
    values = json_body(ReviewDecisionBody())
    with transaction() as session:
        review = reviews.decide(session, current_user(), inspection_id, values, now=now(), config=current_app.config)
    return ReviewDecision().dump(review), 201


@bp.post("/reviews/bulk-approve")
@doc("Approve the unflagged, submitted, evidence-complete records among these; say why others were skipped",
     body=BulkApproveBody, response=BulkApproveResult, tag="reviews")
def reviews_bulk_approve():
    values = json_body(BulkApproveBody())
    with transaction() as session:
        result = reviews.bulk_approve(session, current_user(), values["inspection_ids"], now=now(),
                                      config=current_app.config)
    return BulkApproveResult().dump(result)


@bp.get("/reports/summary")
@doc("Approved records by outcome, scene and department, and rectifications; leaders see their squad",
     query=ReportQuery, response=ReportSummary, tag="reports")
def reports_summary():
    args = query_args(ReportQuery())
    return ReportSummary().dump(reviews.report_summary(db.session, current_user(), now=now(), **args))
