"""Kept records (冲突记录): what the sync set aside instead of overwriting, for supervisors to resolve."""
from __future__ import annotations

from ..auth import current_user, now
from ..db import db, transaction
from ..schemas.conflicts import ConflictItem, ConflictQuery, ConflictRecord, ConflictResolveBody
from ..services import conflicts
from . import bp, doc, json_body, page, query_args


@bp.get("/conflicts")
@doc("Records kept aside by the sync (a reused UUID, a second record for a visit, a stale correction), "
     "the newest first", query=ConflictQuery, response=ConflictItem, many=True, tag="reviews")
def conflicts_list():
    rows, cursor = conflicts.list_conflicts(db.session, current_user(), **query_args(ConflictQuery()))
    return page(rows, cursor, ConflictItem())


@bp.get("/conflicts/<int:conflict_id>")
@doc("One kept record: its body, the record that stands, and what differs", response=ConflictRecord,
     tag="reviews")
def conflicts_get(conflict_id):
    return ConflictRecord().dump(conflicts.get_conflict(db.session, current_user(), conflict_id))


@bp.post("/conflicts/<int:conflict_id>/resolve")
@doc("Resolve a kept record with a note, once; it stays, with who resolved it", body=ConflictResolveBody,
     response=ConflictRecord, tag="reviews")
def conflicts_resolve(conflict_id):
    values = json_body(ConflictResolveBody())
    with transaction() as session:
        record = conflicts.resolve(session, current_user(), conflict_id, values, now=now())
    return ConflictRecord().dump(record)
