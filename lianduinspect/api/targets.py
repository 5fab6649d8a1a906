"""Targets (检查对象): browse, edit, import."""
from __future__ import annotations

from flask import current_app, request

from ..auth import current_user, now
from ..db import db, transaction
from ..errors import ApiError
from ..schemas.targets import ImportResultSchema, TargetQuery, TargetSchema
from ..services import targets
from . import bp, doc, json_body, page, query_args


@bp.get("/targets")
@doc("Targets, filtered by area, category, risk, state or name", query=TargetQuery, response=TargetSchema,
     many=True, tag="targets")
def targets_list():
    rows, cursor = targets.list_targets(db.session, **query_args(TargetQuery()))
    return page(rows, cursor, TargetSchema())


@bp.get("/targets/<int:target_id>")
@doc("One target", response=TargetSchema, tag="targets")
def targets_get(target_id):
    return TargetSchema().dump(targets.get_target(db.session, target_id))


@bp.post("/targets")
@doc("Register a target", body=TargetSchema, response=TargetSchema, status=201, tag="targets")
def targets_create():
    values = json_body(TargetSchema())
    with transaction() as session:
        target = targets.create_target(session, current_user(), values, now=now())
    return TargetSchema().dump(target), 201


@bp.patch("/targets/<int:target_id>")
@doc("Change a target", body=TargetSchema, response=TargetSchema, tag="targets")
def targets_update(target_id):
    values = json_body(TargetSchema(), partial=True)
    with transaction() as session:
        target = targets.update_target(session, current_user(), target_id, values, now=now())
    return TargetSchema().dump(target)


@bp.post("/targets/import")
@doc("Import targets from a CSV or XLSX file (multipart field `file`); one result per row",
     response=ImportResultSchema, tag="targets", raw_body="multipart/form-data")
def targets_import():
    upload = request.files.get("file")
    if upload is None:
        raise ApiError("validation", details={"file": ["Attach a CSV or XLSX file as `file`."]})
    data = upload.stream.read(current_app.config["MAX_IMPORT_BYTES"] + 1)
    if len(data) > current_app.config["MAX_IMPORT_BYTES"]:
        raise ApiError("too_large", details={"limit": current_app.config["MAX_IMPORT_BYTES"]})
    rows = targets.read_table(upload.filename or "", data)
    with transaction() as session:
        result = targets.import_targets(session, current_user(), rows, now=now())
    return ImportResultSchema().dump(result)
