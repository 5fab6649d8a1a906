"""Inspections (检查记录): idempotent submission by client UUID, sync batches, and reads."""
from __future__ import annotations

from ..auth import current_user, now
from ..db import db, transaction
from ..errors import ApiError
from ..schemas.inspections import (InspectionInSchema, InspectionPath, InspectionQuery, InspectionSchema,
                                   SyncInSchema, SyncOutSchema)
from ..services import inspections
from . import bp, doc, json_body, load, page, query_args


def _uuid(value: str) -> str:
    """Return the canonical form of a client-minted UUID from the path; 422 when it is not one."""
    return str(load(InspectionPath(), {"uuid": value})["uuid"])


@bp.put("/inspections/<inspection_uuid>")
@doc("Submit an inspection under its client UUID: 201 stored, 200 the same body again (a safe retry); "
     "409 inspection.conflict (kept for review) or inspection.locked", body=InspectionInSchema,
     response=InspectionSchema, status=201, tag="inspections")
def inspections_put(inspection_uuid):
    key = _uuid(inspection_uuid)
    values = json_body(InspectionInSchema())
    with transaction() as session:
        outcome = inspections.submit(session, current_user(), key, values, now=now())
    # Built only after the commit: a failed commit can never answer 2xx.
    record = InspectionSchema().dump(inspections.stored_record(db.session, outcome.inspection_id))
    if outcome.error is not None:
        raise ApiError(outcome.error.code, outcome.error.message, {**outcome.error.details, "stored": record})
    return record, 201 if outcome.created else 200


@bp.post("/sync")
@doc("Submit up to 200 queued inspections; one result per record, in order, each committed before the answer",
     body=SyncInSchema, response=SyncOutSchema, tag="inspections")
def inspections_sync():
    batch = json_body(SyncInSchema())
    with transaction() as session:
        results = inspections.sync(session, current_user(), batch["inspections"], now=now())
    return SyncOutSchema().dump({"results": results})


@bp.get("/inspections/<inspection_uuid>")
@doc("One inspection revision", response=InspectionSchema, tag="inspections")
def inspections_get(inspection_uuid):
    return InspectionSchema().dump(inspections.get_inspection(db.session, current_user(), _uuid(inspection_uuid)))


@bp.get("/inspections")
@doc("Inspection revisions, filtered by visit, round or status", query=InspectionQuery, response=InspectionSchema,
     many=True, tag="inspections")
def inspections_list():
    rows, cursor = inspections.list_inspections(db.session, current_user(), **query_args(InspectionQuery()))
    return page(rows, cursor, InspectionSchema())
