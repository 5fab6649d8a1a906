"""Inspections: idempotent submission by client UUID, corrections as revisions, and sync batches.

The central-backend model (STYLE 8): the same UUID with the same canonical body is a safe retry
answered with the stored record; the same UUID with a different body is a conflict, kept for review
and never written over; a reviewed revision is locked and corrected by a new revision.

A batch of records is one `_Ingest`: its reads are made once for the whole batch and kept current
as records are written, and the rows are written with one statement per table through
`db.insert_rows` (per-object ORM inserts cost about twenty times the floor on a 10,000-record sync,
SQLAlchemy's executemany about twice what the driver's does; see bench/sync_ingest.py).
"""
from __future__ import annotations

import logging
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import datetime

from marshmallow import ValidationError
from sqlalchemy import bindparam, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..db import insert_rows, lock_photo_buckets
from ..errors import ApiError, Forbidden, NotFound, ValidationFailed
from ..models import (ChecklistItem, Evidence, Inspection, InspectionConflict, InspectionInspector,
                      InspectionPhoto, ItemResult, Rectification, Round, RoundMember, User, Visit, VisitRound)
from ..permissions import is_all_seeing
from ..rules import capture
from ..schemas.inspections import InspectionInSchema
from . import audit, authenticity
from .paging import paginate

log = logging.getLogger("lianduinspect.sync")

_INSPECTIONS = Inspection.__table__
_RESULTS = ItemResult.__table__
_PHOTOS = InspectionPhoto.__table__
_INSPECTORS = InspectionInspector.__table__
_VISITS = Visit.__table__
_INSPECTION_COLUMNS = ("uuid", "visit_id", "revision", "supersedes_id", "status", "submitted_by_id", "started_at",
                       "finished_at", "lat", "lon", "accuracy_m", "outcome", "notes", "late_reason", "signature_sha256",
                       "body_digest", "wire_digest", "evidence_complete", "flags", "received_at")
_CHUNK = 500  # ids per IN (...) list


def _chunks(values, size=_CHUNK):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


@dataclass
class _Stored:
    """What a batch needs to know of a stored revision."""

    id: int | None  # None while queued
    uuid: str
    visit_id: int
    revision: int
    status: str
    outcome: str
    body_digest: str
    wire_digest: str | None
    supersedes_id: int | None
    squad_id: int
    evidence_complete: bool
    received_at: datetime


@dataclass
class _Round:
    id: int
    status: str
    squad_id: int
    scene_version_id: int


@dataclass
class _Visit:
    id: int
    status: str
    target_id: int
    squad_id: int  # the squad of the round that planned it
    planner_id: int  # that round
    rounds: list[_Round] = field(default_factory=list)
    member: bool = False  # is the actor on the team of one of its rounds?
    checklist: dict[int, capture.Item] = field(default_factory=dict)  # merged, in checklist order
    revisions: list[_Stored] = field(default_factory=list)


@dataclass
class _Pending:
    """A record decided on and queued for writing."""

    stored: _Stored
    values: dict
    visit: _Visit
    previous: _Stored | None
    visit_status: str  # before this record
    photos: list  # capture.expected_photos(values)


@dataclass
class Submission:
    """What became of one submitted record: created, exists, conflict or locked."""

    status: str
    stored: _Stored | None
    error: ApiError | None = None

    @property
    def created(self) -> bool:
        return self.status == "created"

    @property
    def inspection_id(self) -> int | None:
        return self.stored.id if self.stored else None


def _run(session, statement, params: dict):
    """Execute a Core statement on the session's connection (its transaction), past the ORM layer."""
    return session.connection().execute(statement, params)


def _among(column, name: str = "ids"):
    """`column IN (...)` over a list given at execution (the statement is built and cached once)."""
    return column.in_(bindparam(name, expanding=True))


# The batch's reads, as Core statements built once: building, caching and ORM-compiling a select
# per query cost a sync batch more than running them (measured with bench/sync_ingest.py).
_ROUNDS_T, _MEMBERS, _SERVED_T = Round.__table__, RoundMember.__table__, VisitRound.__table__
_ITEMS_T, _USERS, _EVIDENCE = ChecklistItem.__table__, User.__table__, Evidence.__table__
_STORED_SELECT = (select(_INSPECTIONS.c.id, _INSPECTIONS.c.uuid, _INSPECTIONS.c.visit_id, _INSPECTIONS.c.revision,
                         _INSPECTIONS.c.status, _INSPECTIONS.c.outcome, _INSPECTIONS.c.body_digest,
                         _INSPECTIONS.c.wire_digest, _INSPECTIONS.c.supersedes_id, _ROUNDS_T.c.squad_id,
                         _INSPECTIONS.c.evidence_complete, _INSPECTIONS.c.received_at)
                  .join(_VISITS, _VISITS.c.id == _INSPECTIONS.c.visit_id)
                  .join(_ROUNDS_T, _ROUNDS_T.c.id == _VISITS.c.round_id))
_STORED_BY_UUID = _STORED_SELECT.where(_among(_INSPECTIONS.c.uuid))
_STORED_BY_VISIT = (_STORED_SELECT.where(_among(_INSPECTIONS.c.visit_id))
                    .order_by(_INSPECTIONS.c.visit_id, _INSPECTIONS.c.revision))
# Lock the visits (PostgreSQL; SQLite holds its write lock already) so that two hosts deciding
# about one visit take turns, and the revisions read after are current.
_VISITS_LOCKED = (select(_VISITS.c.id, _VISITS.c.status, _VISITS.c.target_id, _ROUNDS_T.c.squad_id, _VISITS.c.round_id)
                  .join(_ROUNDS_T, _ROUNDS_T.c.id == _VISITS.c.round_id).where(_among(_VISITS.c.id))
                  .order_by(_VISITS.c.id).with_for_update(of=_VISITS))
_SERVED = select(_SERVED_T.c.visit_id, _SERVED_T.c.round_id).where(_among(_SERVED_T.c.visit_id))
_ROUNDS = (select(_ROUNDS_T.c.id, _ROUNDS_T.c.status, _ROUNDS_T.c.squad_id, _ROUNDS_T.c.scene_version_id)
           .where(_among(_ROUNDS_T.c.id)))
_MINE = select(_MEMBERS.c.round_id).where(_MEMBERS.c.user_id == bindparam("user_id"), _among(_MEMBERS.c.round_id))
_ITEMS = (select(_ITEMS_T.c.id, _ITEMS_T.c.scene_version_id, _ITEMS_T.c.severity, _ITEMS_T.c.photo_required_on_fail)
          .where(_among(_ITEMS_T.c.scene_version_id))
          .order_by(_ITEMS_T.c.scene_version_id, _ITEMS_T.c.position))
_OFFICERS = select(_USERS.c.id, _USERS.c.active, _USERS.c.certificate_no, _USERS.c.full_name).where(_among(_USERS.c.id))
_PRESENT = select(_EVIDENCE.c.sha256).where(_among(_EVIDENCE.c.sha256))
_IDS_BY_UUID = select(_INSPECTIONS.c.uuid, _INSPECTIONS.c.id).where(_among(_INSPECTIONS.c.uuid))
_UUIDS_BY_ID = select(_INSPECTIONS.c.id, _INSPECTIONS.c.uuid).where(_among(_INSPECTIONS.c.id))
_SUPERSEDE = update(_INSPECTIONS).where(_among(_INSPECTIONS.c.id)).values(status="superseded")
_INSPECTED = update(_VISITS).where(_among(_VISITS.c.id)).values(status="inspected", updated_at=bindparam("now"))
_PHOTOS_OF = (select(_PHOTOS.c.inspection_id, _PHOTOS.c.sha256).where(_among(_PHOTOS.c.inspection_id))
              .order_by(_PHOTOS.c.id))


class _Ingest:
    """One batch of submissions by one actor in one transaction."""

    def __init__(self, session, actor, *, now: datetime):
        self.session = session
        self.actor = actor
        self.now = now
        self.by_uuid: dict[str, _Stored] = {}
        self.visits: dict[int, _Visit | None] = {}
        self.officers: dict[int, tuple[capture.Officer, str]] = {}
        self.present: set[str] = set()
        self.queue: list[_Pending] = []
        self.immediate = False  # write each record as it is decided (one-record use cases)
        self.redone: dict[str, Submission | ApiError] = {}  # records decided again after a lost race
        self.written: list[_Pending] = []  # the records this batch stored

    # ---- reads, once per batch ----------------------------------------------------------------

    def load_stored(self, uuids) -> None:
        """Read the stored revisions with these UUIDs."""
        wanted = [u for u in set(uuids) if u not in self.by_uuid]
        for chunk in _chunks(wanted):
            for row in _run(self.session, _STORED_BY_UUID, {"ids": chunk}):
                self.by_uuid[row.uuid] = _Stored(*row)

    def prepare(self, bodies: list[dict]) -> None:
        """Read, for a batch of loaded bodies, their visits, rounds, checklists, inspectors and photos."""
        session = self.session
        visit_ids = sorted({b["visit_id"] for b in bodies} - set(self.visits))
        if visit_ids:
            self._load_visits(visit_ids)
        officer_ids = {i for b in bodies for i in b["inspector_ids"]} - set(self.officers)
        for chunk in _chunks(officer_ids):
            for row in _run(session, _OFFICERS, {"ids": chunk}):
                self.officers[row.id] = (capture.Officer(row.id, row.active, row.certificate_no), row.full_name)
        shas = {sha for b in bodies for sha, _item, _photo in capture.expected_photos(b)} - self.present
        lock_photo_buckets(session, shas)  # a photo committing right now is seen, or waits for us
        for chunk in _chunks(shas):
            self.present.update(_run(session, _PRESENT, {"ids": chunk}).scalars())

    def _load_visits(self, visit_ids: list[int]) -> None:
        session = self.session
        for vid in visit_ids:
            self.visits[vid] = None
        for chunk in _chunks(visit_ids):
            for row in _run(session, _VISITS_LOCKED, {"ids": chunk}):
                self.visits[row.id] = _Visit(row.id, row.status, row.target_id, row.squad_id, row.round_id)
        found = [vid for vid in visit_ids if self.visits[vid] is not None]
        if not found:
            return
        served: dict[int, set[int]] = {vid: {self.visits[vid].planner_id} for vid in found}
        for chunk in _chunks(found):
            for vid, rid in _run(session, _SERVED, {"ids": chunk}):
                served[vid].add(rid)
        round_ids = sorted({rid for rids in served.values() for rid in rids})
        rounds: dict[int, _Round] = {}
        mine: set[int] = set()
        for chunk in _chunks(round_ids):
            for row in _run(session, _ROUNDS, {"ids": chunk}):
                rounds[row.id] = _Round(*row)
            mine.update(_run(session, _MINE, {"ids": chunk, "user_id": getattr(self.actor, "id", None)}).scalars())
        version_ids = sorted({r.scene_version_id for r in rounds.values()})
        items: dict[int, list[capture.Item]] = {v: [] for v in version_ids}
        for chunk in _chunks(version_ids):
            for row in _run(session, _ITEMS, {"ids": chunk}):
                items[row.scene_version_id].append(capture.Item(row.id, row.severity, row.photo_required_on_fail))
        for vid in found:
            visit = self.visits[vid]
            visit.rounds = [rounds[rid] for rid in sorted(served[vid])]
            visit.member = any(r.id in mine for r in visit.rounds)
            # The merged checklist of a joint visit: every served round's pinned version, once each.
            for version_id in dict.fromkeys(r.scene_version_id for r in visit.rounds):
                for item in items[version_id]:
                    visit.checklist.setdefault(item.id, item)
        for chunk in _chunks(found):
            for row in _run(session, _STORED_BY_VISIT, {"ids": chunk}):
                stored = self.by_uuid.setdefault(row.uuid, _Stored(*row))
                self.visits[row.visit_id].revisions.append(stored)

    def _reload(self, inspection_uuid: str, visit_id: int) -> None:
        """Forget and re-read what another transaction may have changed under us."""
        self.by_uuid.pop(inspection_uuid, None)
        visit = self.visits.pop(visit_id, None)
        if visit:
            for stored in visit.revisions:
                self.by_uuid.pop(stored.uuid, None)
        self.load_stored([inspection_uuid])
        if visit_id not in self.visits:
            self._load_visits([visit_id])

    # ---- decisions ----------------------------------------------------------------------------

    def can_read(self, stored: _Stored) -> bool:
        return is_all_seeing(self.actor) or getattr(self.actor, "squad_id", None) == stored.squad_id

    def submit(self, inspection_uuid: str, values: dict) -> Submission:
        """Decide about one loaded body; queue it for writing, or say why not (ApiError: invalid, forbidden).

        In immediate mode the record is written at once; otherwise `flush()` writes the queue.
        """
        try:
            outcome = self._submit(inspection_uuid, values)
            if self.immediate:
                self._write_queue()
            return outcome
        except IntegrityError:
            # The unique constraints on uuid and (visit, revision) are the arbiter between hosts:
            # another transaction stored this UUID or revision first. Decide again on what it stored.
            log.info("inspection %s lost a race; deciding again", inspection_uuid)
            self._reload(inspection_uuid, values["visit_id"])
            outcome = self._submit(inspection_uuid, values)
            if self.immediate:
                self._write_queue()
            return outcome

    def flush(self) -> None:
        """Write the queued records; if another host won a race, decide them again one at a time."""
        queue = list(self.queue)
        try:
            self._write_queue()
        except IntegrityError:
            log.info("a batch of %d inspections lost a race; deciding each again", len(queue))
            for pending in queue:
                self._reload(pending.stored.uuid, pending.visit.id)
            self.immediate = True
            try:
                for pending in queue:
                    try:
                        self.redone[pending.stored.uuid] = self.submit(pending.stored.uuid, pending.values)
                    except ApiError as err:
                        self.redone[pending.stored.uuid] = err
            finally:
                self.immediate = False

    def _write_queue(self) -> None:
        queue, self.queue = self.queue, []
        if not queue:
            return
        try:
            with self.session.begin_nested():
                events = self._write(queue)
        except IntegrityError:
            self.queue = []
            for pending in queue:
                pending.stored.id = None  # rolled back: those ids were never stored
            raise
        self.written.extend(queue)
        # Only once the savepoint is released does the audit queue grow.
        for action, subject_type, subject_id, data in events:
            audit.record(self.session, self.actor, action, subject_type, subject_id, data, now=self.now)

    def _submit(self, inspection_uuid: str, values: dict) -> Submission:
        digest = capture.body_digest(values)
        stored = self.by_uuid.get(inspection_uuid)
        if stored is not None:
            if not self.can_read(stored):
                raise NotFound("inspection")
            decision = capture.replay_decision(stored.body_digest, stored.status, digest)
            if decision == "exists":
                return Submission("exists", stored)
            return self._conflict(inspection_uuid, values, digest, stored, decision, "same_uuid")

        visit = self.visits.get(values["visit_id"])
        actor_id = getattr(self.actor, "id", None)
        if visit is None or (not visit.member and getattr(self.actor, "squad_id", None) != visit.squad_id):
            raise NotFound("visit")  # another squad's visit: do not tell it exists
        if not visit.member:
            raise Forbidden("You are not on the team of this visit's rounds.")
        if actor_id not in values["inspector_ids"]:
            raise Forbidden("Submit only inspections you took part in: list yourself among the inspectors.")
        for rnd in visit.rounds:
            if rnd.status == "cancelled":
                raise ApiError("round.closed", details={"status": rnd.status, "round_id": rnd.id})
        errors = capture.field_errors(values, checklist=visit.checklist,
                                      officers={k: v[0] for k, v in self.officers.items()}, now=self.now)
        latest = visit.revisions[-1] if visit.revisions else None
        previous = None
        if values.get("supersedes") is not None:
            wanted = str(values["supersedes"])
            previous = next((r for r in visit.revisions if r.uuid == wanted), None)
            if previous is None:
                errors.setdefault("supersedes", []).append("Not an inspection of this visit.")
        if errors:
            raise ValidationFailed(errors)

        if latest is not None and previous is None:
            # A second record for an inspected visit that does not say it corrects the first.
            return self._conflict(inspection_uuid, values, digest, latest, "conflict", "visit_inspected")
        if previous is not None and previous is not latest:
            # A correction of a revision someone has corrected already.
            return self._conflict(inspection_uuid, values, digest, latest, "conflict", "stale_supersedes")
        if previous is not None and previous.status == "approved":
            raise ApiError("inspection.locked", "The approved revision cannot be corrected.",
                           {"revision": previous.revision})
        wanted_status = "inspected" if previous is not None else "pending"
        if visit.status != wanted_status:
            raise ApiError("inspection.visit_closed", details={"status": visit.status})

        if previous is not None and previous.id is None:
            self.flush()  # the revision it corrects is still queued: its id is needed now
            if previous.id is None:  # that record lost a race and was decided otherwise
                return self.submit(inspection_uuid, values)
        revision = previous.revision + 1 if previous is not None else 1
        photos = capture.expected_photos(values)
        complete = all(sha in self.present for sha, _item, _photo in photos)
        stored = _Stored(None, inspection_uuid, visit.id, revision, "submitted", values["outcome"], digest,
                         values.get("wire_digest"), previous.id if previous is not None else None, visit.squad_id,
                         complete, self.now)
        self.queue.append(_Pending(stored, values, visit, previous, visit.status, photos))
        # The batch's view changes now, so later records of the same batch are decided against it.
        self.by_uuid[inspection_uuid] = stored
        if previous is not None:
            previous.status = "superseded"
        visit.revisions.append(stored)
        visit.status = "inspected"
        return Submission("created", stored)

    def _conflict(self, inspection_uuid: str, values: dict, digest: str, stored: _Stored, decision: str,
                  reason: str) -> Submission:
        """Keep a body that may not be stored (once per UUID and digest), and answer 409."""
        session = self.session
        body = capture.canonical_body(values)
        kept = session.execute(
            select(InspectionConflict.id).where(InspectionConflict.uuid == inspection_uuid,
                                                InspectionConflict.body_digest == digest)).first()
        if kept is None:
            try:
                with session.begin_nested():
                    session.execute(insert(InspectionConflict.__table__).values(
                        uuid=inspection_uuid, body=body, body_digest=digest,
                        submitted_by_id=getattr(self.actor, "id", None), received_at=self.now,
                        visit_id=stored.visit_id, reason=reason))
            except IntegrityError:
                pass  # the same conflict arrived twice at once; it is kept already
            else:
                audit.record(session, self.actor, "inspection.conflict", "inspection", inspection_uuid,
                             {"reason": reason, "body_digest": digest, "stored_uuid": stored.uuid,
                              "stored_digest": stored.body_digest, "visit_id": values["visit_id"]}, now=self.now)
        # "kept": the body is stored for a supervisor (GET /conflicts), so the phone need not keep it.
        if decision == "locked":
            error = ApiError("inspection.locked", details={"revision": stored.revision, "kept": True})
        else:
            error = ApiError("inspection.conflict", details={"reason": reason, "kept": True})
        return Submission(decision, stored, error)

    # ---- writes -------------------------------------------------------------------------------

    def _write(self, queue: list["_Pending"]) -> list[tuple]:
        """Insert the queued records with one statement (or executemany) per table; return their audit events."""
        session, now, actor_id = self.session, self.now, self.actor.id
        rows = []
        for p in queue:
            v, location = p.values, p.values.get("location") or {}
            # A record without photos has its final flags now; one with photos gets them once they
            # are all present (flag_complete below, or the upload).
            flags = (authenticity.record_only_flags(v["finished_at"], now, v.get("late_reason"))
                     if not p.photos else None)
            rows.append((p.stored.uuid, p.visit.id, p.stored.revision, p.stored.supersedes_id, "submitted", actor_id,
                         v["started_at"], v["finished_at"], location.get("lat"), location.get("lon"),
                         location.get("accuracy_m"), v["outcome"], v.get("notes"), v.get("late_reason"),
                         v.get("signature_sha256"), p.stored.body_digest, p.stored.wire_digest,
                         p.stored.evidence_complete, flags, now))
        # Then read the ids back by uuid: RETURNING with parameter order makes SQLAlchemy insert row
        # by row on SQLite (measured: most of a batch's time).
        insert_rows(session, _INSPECTIONS, _INSPECTION_COLUMNS, rows)
        by_uuid = dict(_run(session, _IDS_BY_UUID, {"ids": [r[0] for r in rows]}).all())
        results, inspectors, photos, superseded, visits, events = [], [], [], [], [], []
        for p in queue:
            new_id = p.stored.id = by_uuid[p.stored.uuid]
            values = p.values
            by_item = {r["item_id"]: r for r in values["results"]}
            for item_id in p.visit.checklist:
                result = by_item[item_id]
                results.append((new_id, item_id, result["result"], result.get("note")))
            inspectors.extend((new_id, uid) for uid in sorted(values["inspector_ids"]))
            photos.extend((new_id, sha, item_id, ph.get("captured_at"), ph.get("lat"), ph.get("lon"),
                           ph.get("accuracy_m")) for sha, item_id, ph in p.photos)
            if p.previous is not None:
                superseded.append(p.previous.id)
            if p.visit_status != "inspected":
                visits.append(p.visit.id)
            counts = {"pass": 0, "fail": 0, "na": 0}
            for result in values["results"]:
                counts[result["result"]] += 1
            events.append(("inspection.submit", "inspection", p.stored.uuid, {
                "visit_id": p.visit.id, "revision": p.stored.revision, "outcome": values["outcome"],
                "inspectors": sorted(values["inspector_ids"]), "items": counts, "body_digest": p.stored.body_digest,
                "supersedes": p.previous.uuid if p.previous is not None else None}))
        insert_rows(session, _RESULTS, ("inspection_id", "item_id", "result", "note"), results)
        insert_rows(session, _INSPECTORS, ("inspection_id", "user_id"), inspectors)
        insert_rows(session, _PHOTOS, ("inspection_id", "sha256", "item_id", "captured_at", "lat", "lon", "accuracy_m"),
                    photos)
        # One statement each (an executemany is one UPDATE per row on PostgreSQL).
        if superseded:
            _run(session, _SUPERSEDE, {"ids": superseded})
        if visits:
            _run(session, _INSPECTED, {"ids": visits, "now": now})
        events.extend(self._open_rectifications([p for p in queue if p.values["outcome"] == "rectify"]))
        return events

    def _open_rectifications(self, queue: list["_Pending"]) -> list[tuple]:
        """Open one rectification per failed item; a correction carries the earlier ones over."""
        session, events, rows = self.session, [], []
        for p in queue:
            inspection_id, values, visit = p.stored.id, p.values, p.visit
            carried = {}
            if p.previous is not None:
                carried = dict(session.execute(select(Rectification.item_id, Rectification.id)
                                               .where(Rectification.inspection_id == p.previous.id)).all())
            for result in values["results"]:
                if result["result"] != "fail":
                    continue
                item_id = result["item_id"]
                if item_id in carried:
                    session.execute(update(Rectification).where(Rectification.id == carried[item_id])
                                    .values(inspection_id=inspection_id))
                    events.append(("rectification.carry", "rectification", carried[item_id],
                                   {"inspection_id": inspection_id, "item_id": item_id}))
                    continue
                item = visit.checklist[item_id]
                photos = result.get("photos") or ()
                rows.append({"inspection_id": inspection_id, "item_id": item_id, "target_id": visit.target_id,
                             "squad_id": visit.squad_id, "status": "open",
                             "deadline": capture.rectification_deadline(values["finished_at"], item.severity),
                             "before_sha256": photos[0]["sha256"] if photos else None, "lookback": False,
                             "opened_at": self.now, "_severity": item.severity})
        if rows:
            severities = [row.pop("_severity") for row in rows]
            table = Rectification.__table__
            session.execute(insert(table), rows)
            opened = {(i, item): rid for rid, i, item in session.execute(
                select(table.c.id, table.c.inspection_id, table.c.item_id)
                .where(table.c.inspection_id.in_(sorted({r["inspection_id"] for r in rows}))))}
            ids = [opened[(r["inspection_id"], r["item_id"])] for r in rows]
            for row, rect_id, severity in zip(rows, ids, severities):
                events.append(("rectification.open", "rectification", rect_id, {
                    "inspection_id": row["inspection_id"], "item_id": row["item_id"], "target_id": row["target_id"],
                    "deadline": row["deadline"].isoformat(), "severity": severity}))
        return events


# ---- use cases ------------------------------------------------------------------------------------


def submit(session, actor, inspection_uuid: str, values: dict, *, now: datetime) -> Submission:
    """Store one inspection under its client UUID: created, a replay (exists), or a kept conflict.

    Invalid bodies and forbidden submissions raise (nothing is stored); conflicts return with the
    error to answer after the commit, because the conflicting body is kept.
    """
    ingest = _Ingest(session, actor, now=now)
    ingest.immediate = True
    ingest.load_stored([inspection_uuid])
    ingest.prepare([values])
    submission = ingest.submit(inspection_uuid, values)
    if submission.status == "created":
        _flag_complete(session, [submission.stored], now=now)
    return submission


def _flag_complete(session, stored: list, *, now: datetime) -> None:
    """Compute the flags of new records whose photos had all arrived before them."""
    ids = [s.id for s in stored if s.evidence_complete and s.id is not None]
    if ids:
        waiting = list(session.scalars(select(Inspection.id).where(Inspection.id.in_(ids),
                                                                   authenticity.flags_missing())))
        if waiting:
            authenticity.refresh_by_ids(session, waiting, now=now)


def _error(err: ApiError) -> dict:
    return {"code": err.code, "message": err.message, "details": err.details}


_SYNC_STATUS = {"validation": "invalid", "not_found": "forbidden", "forbidden": "forbidden",
                "inspection.conflict": "conflict", "inspection.locked": "locked"}


def sync(session, actor, entries: list, *, now: datetime, schema: InspectionInSchema | None = None) -> list[dict]:
    """Ingest a batch of queued records in order, one result each; a bad record never stops the others.

    Each entry is {"uuid": str, "body": dict} as sent. Every record is validated and decided on its
    own, against the batch's view as the records before it left it; the accepted ones are then
    written together in one savepoint (measured: per-record statements cost several times the
    floor). If another host wins a race meanwhile, the savepoint is rolled back and those records
    are decided and written again one at a time.
    """
    schema = schema or InspectionInSchema()
    ingest = _Ingest(session, actor, now=now)
    results: list[dict] = []
    pending: list[tuple[int, str, dict, str | None]] = []
    for index, entry in enumerate(entries):
        raw_uuid = entry.get("uuid") if isinstance(entry, dict) else None
        result = {"uuid": raw_uuid if isinstance(raw_uuid, str) else None}
        results.append(result)
        try:
            inspection_uuid = str(uuidlib.UUID(raw_uuid))
        except (TypeError, ValueError, AttributeError):
            result.update(status="invalid", error=_error(ValidationFailed({"uuid": ["Not a valid UUID."]})))
            continue
        result["uuid"] = inspection_uuid
        body = entry.get("body")
        if not isinstance(body, dict):
            result.update(status="invalid", error=_error(ValidationFailed({"body": ["Not an object."]})))
            continue
        pending.append((index, inspection_uuid, body, capture.wire_digest(body)))

    ingest.load_stored(u for _i, u, _b, _w in pending)
    loaded = []
    for index, inspection_uuid, body, wire in pending:
        stored = ingest.by_uuid.get(inspection_uuid)
        # A replay of the very bytes once stored needs no validation to be recognised.
        if stored is not None and wire is not None and stored.wire_digest == wire and ingest.can_read(stored):
            results[index].update(status="exists", stored=stored)
            continue
        try:
            values = schema.load_with_digest(body, wire)
        except ValidationError as err:
            results[index].update(status="invalid", error=_error(ValidationFailed(err.normalized_messages())))
            continue
        loaded.append((index, inspection_uuid, values))

    ingest.prepare([values for _i, _u, values in loaded])
    for index, inspection_uuid, values in loaded:
        try:
            outcome = ingest.submit(inspection_uuid, values)
        except ApiError as err:
            results[index].update(status=_SYNC_STATUS.get(err.code, "invalid"), error=_error(err))
            continue
        results[index].update(status=outcome.status, stored=outcome.stored)
        if outcome.error is not None:
            results[index]["error"] = _error(outcome.error)
    ingest.flush()
    for index, inspection_uuid, _values in loaded:
        # A record another host stored first, meanwhile, was decided again: answer that decision.
        redone = ingest.redone.get(inspection_uuid)
        if redone is None:
            continue
        result = results[index]
        result.pop("error", None)
        result.pop("stored", None)
        if isinstance(redone, ApiError):
            result.update(status=_SYNC_STATUS.get(redone.code, "invalid"), error=_error(redone))
        else:
            result.update(status=redone.status, stored=redone.stored)
            if redone.error is not None:
                result["error"] = _error(redone.error)

    _flag_complete(session, [r["stored"] for r in results if r.get("status") == "created"], now=now)
    receipts = _receipts(session, ingest, [r["stored"] for r in results if "stored" in r])
    for result in results:
        stored = result.pop("stored", None)
        if stored is None:
            continue
        if result["status"] in ("created", "exists"):
            result["record"] = receipts[stored.id]
        else:
            result["error"]["details"]["stored"] = receipts[stored.id]
    return results


def _receipts(session, ingest: _Ingest, stored: list[_Stored]) -> dict[int, dict]:
    """Describe stored revisions briefly, JSON-ready: identity, state, and the photos still to upload."""
    # The photos of the records this batch wrote are known; only those stored before are read.
    expected: dict[int, list[str]] = {p.stored.id: [sha for sha, _item, _photo in p.photos] for p in ingest.written}
    unread = sorted({s.id for s in stored} - expected.keys())
    expected.update((i, []) for i in unread)
    supersedes = {s.supersedes_id for s in stored if s.supersedes_id}
    uuids = {s.id: s.uuid for s in ingest.by_uuid.values()}
    for chunk in _chunks(unread):
        for iid, sha in _run(session, _PHOTOS_OF, {"ids": chunk}):
            expected[iid].append(sha)
    missing_uuids = [i for i in supersedes if i not in uuids]
    for chunk in _chunks(missing_uuids):
        uuids.update(_run(session, _UUIDS_BY_ID, {"ids": chunk}).all())
    present = ingest.present
    unknown = {sha for s in stored for sha in expected[s.id]} - present
    for chunk in _chunks(unknown):
        present.update(_run(session, _PRESENT, {"ids": chunk}).scalars())
    out = {}
    for s in stored:
        shas = expected[s.id]
        missing = [sha for sha in shas if sha not in present]
        out[s.id] = {"id": s.id, "uuid": s.uuid, "visit_id": s.visit_id, "revision": s.revision,
                     "supersedes": uuids.get(s.supersedes_id), "status": s.status, "outcome": s.outcome,
                     "evidence": {"expected": shas, "present": [sha for sha in shas if sha in present],
                                  "missing": missing},
                     "evidence_complete": not missing, "received_at": s.received_at.isoformat()}
    return out


def refresh_evidence_complete(session, sha256: str) -> list[Inspection]:
    """Mark complete every inspection that was waiting only for this photo; return those.

    The evidence upload service calls this when a photo arrives: a record and its photos may reach
    the server in either order.
    """
    waiting = list(session.scalars(
        select(Inspection).where(Inspection.evidence_complete.is_(False),
                                 Inspection.id.in_(select(InspectionPhoto.inspection_id)
                                                   .where(InspectionPhoto.sha256 == sha256)))
        .order_by(Inspection.id)))
    done = []
    for inspection in waiting:
        absent = session.scalar(select(func.count()).select_from(InspectionPhoto).where(
            InspectionPhoto.inspection_id == inspection.id,
            ~exists().where(Evidence.sha256 == InspectionPhoto.sha256)))
        if not absent:
            inspection.evidence_complete = True
            done.append(inspection)
    session.flush()
    return done


# ---- reads --------------------------------------------------------------------------------------


def _scope(stmt, actor):
    """Limit a query on inspections to what the actor may read (own squad, or all)."""
    if is_all_seeing(actor):
        return stmt
    return stmt.where(Inspection.visit_id.in_(
        select(Visit.id).join(Round, Round.id == Visit.round_id).where(Round.squad_id == actor.squad_id)))


_LOAD = (selectinload(Inspection.results), selectinload(Inspection.photos), selectinload(Inspection.inspectors))


def records(session, inspections: list[Inspection]) -> list[dict]:
    """Describe stored revisions in full: the one record shape of PUT and GET."""
    supersedes = {i.supersedes_id for i in inspections if i.supersedes_id}
    uuids = dict(session.execute(select(Inspection.id, Inspection.uuid).where(Inspection.id.in_(supersedes))).all()) \
        if supersedes else {}
    shas = {p.sha256 for i in inspections for p in i.photos}
    present = set()
    for chunk in _chunks(shas):
        present.update(session.scalars(select(Evidence.sha256).where(Evidence.sha256.in_(chunk))))
    out = []
    for i in inspections:
        photos_by_item: dict[int | None, list[dict]] = {}
        for p in i.photos:
            photos_by_item.setdefault(p.item_id, []).append(
                {"sha256": p.sha256, "captured_at": p.captured_at, "lat": p.lat, "lon": p.lon,
                 "accuracy_m": p.accuracy_m})
        expected = [p.sha256 for p in i.photos]
        missing = [s for s in expected if s not in present]
        out.append({
            "id": i.id, "uuid": i.uuid, "visit_id": i.visit_id, "revision": i.revision,
            "supersedes": uuids.get(i.supersedes_id), "status": i.status, "outcome": i.outcome,
            "started_at": i.started_at, "finished_at": i.finished_at,
            "location": None if i.lat is None else {"lat": i.lat, "lon": i.lon, "accuracy_m": i.accuracy_m},
            "inspectors": [{"id": u.id, "full_name": u.full_name, "certificate_no": u.certificate_no}
                           for u in i.inspectors],
            "results": [{"item_id": r.item_id, "result": r.result, "note": r.note,
                         "photos": photos_by_item.get(r.item_id, [])} for r in i.results],
            "scene_photos": photos_by_item.get(None, []),
            "notes": i.notes, "late_reason": i.late_reason, "signature_sha256": i.signature_sha256,
            "evidence": {"expected": expected, "present": [s for s in expected if s in present], "missing": missing},
            "evidence_complete": not missing, "received_at": i.received_at,
        })
    return out


def stored_record(session, inspection_id: int) -> dict:
    """Return the full record of a stored revision (read after the commit that stored it)."""
    inspection = session.scalars(select(Inspection).options(*_LOAD).where(Inspection.id == inspection_id)).one()
    return records(session, [inspection])[0]


def get_inspection(session, actor, inspection_uuid: str) -> dict:
    """Return one record the actor may read; 404 for others' so existence does not leak."""
    inspection = session.scalars(_scope(select(Inspection).options(*_LOAD), actor)
                                 .where(Inspection.uuid == inspection_uuid)).one_or_none()
    if inspection is None:
        raise NotFound("inspection")
    return records(session, [inspection])[0]


def list_inspections(session, actor, *, visit_id=None, round_id=None, status=None, cursor=None, limit=50):
    """Return a page of records the actor may read, filtered by visit, round or status."""
    stmt = _scope(select(Inspection).options(*_LOAD), actor)
    if visit_id is not None:
        stmt = stmt.where(Inspection.visit_id == visit_id)
    if round_id is not None:
        stmt = stmt.where(or_(
            Inspection.visit_id.in_(select(VisitRound.visit_id).where(VisitRound.round_id == round_id)),
            Inspection.visit_id.in_(select(Visit.id).where(Visit.round_id == round_id))))
    if status is not None:
        stmt = stmt.where(Inspection.status == status)
    rows, next_cursor = paginate(session, stmt, Inspection.id, cursor, limit)
    return records(session, rows), next_cursor


__all__ = ["Submission", "submit", "sync", "refresh_evidence_complete", "records", "stored_record",
           "get_inspection", "list_inspections"]
