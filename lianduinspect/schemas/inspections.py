"""Inspections on the wire: the offline ingest body, the stored record, and sync batches."""
from __future__ import annotations

import logging
import math
import re
import uuid
from datetime import datetime

from marshmallow import EXCLUDE, Schema, fields, post_load, pre_load, validate

from ..models import INSPECTION_STATUSES, OUTCOMES, RESULTS
from ..rules.capture import wire_digest

log = logging.getLogger("lianduinspect.sync")

SHA256 = r"^[0-9a-f]{64}$"
MAX_BATCH = 200
MAX_NOTE = 2000
MAX_NOTES = 4000
MAX_ITEMS = 500
MAX_ITEM_PHOTOS = 20
MAX_SCENE_PHOTOS = 50


class _Tolerant(Schema):
    """Ingest schemas IGNORE unknown fields, and log them.

    Only the sync-ingest schemas do this (admin endpoints reject unknown fields): a phone may hold
    records queued by an older or newer app version for days without signal, and it cannot upgrade
    before its outbox drains. Refusing a field we do not know would strand that inspector's work.
    """

    class Meta:
        unknown = EXCLUDE

    @pre_load
    def _log_unknown(self, data, **_kwargs):
        if isinstance(data, dict):
            known = {f.data_key or name for name, f in self.load_fields.items()}
            extra = [k for k in data if k not in known]
            if extra:
                log.warning("inspection ingest ignored unknown fields %s in %s", sorted(map(str, extra)),
                            type(self).__name__)
        return data


_HEX64 = re.compile(SHA256)
_PHOTO_KEYS = frozenset({"sha256", "captured_at", "lat", "lon", "accuracy_m"})
_RESULT_KEYS = frozenset({"item_id", "result", "note", "photos"})
_RESULT_SET = frozenset(RESULTS)


_DECLINE = object()


def _fast_number(value, low: float, high: float):
    """Return value as a float if it is plainly a finite number in range, else a sentinel (ask marshmallow)."""
    kind = type(value)
    if kind is float or kind is int:
        number = float(value) if kind is float or abs(value) < 1e300 else math.inf
        if low <= number <= high:
            return number
    elif value is None:
        return None
    return _DECLINE


def _fast_photo(photo):
    """Load a clean photo dict exactly as PhotoInSchema would, or return None to let it decide."""
    if type(photo) is not dict or not photo.keys() <= _PHOTO_KEYS:
        return None
    sha = photo.get("sha256")
    if type(sha) is not str or not _HEX64.match(sha):
        return None
    captured = photo.get("captured_at")
    if captured is not None:
        captured = _fast_time(captured)
        if captured is None:
            return None
    lat = _fast_number(photo.get("lat"), -90, 90)
    lon = _fast_number(photo.get("lon"), -180, 180)
    acc = _fast_number(photo.get("accuracy_m"), 0, 100000)
    if lat is _DECLINE or lon is _DECLINE or acc is _DECLINE:
        return None
    return {"sha256": sha, "captured_at": captured, "lat": lat, "lon": lon, "accuracy_m": acc}


def _fast_photos(photos, limit: int):
    if type(photos) is not list or len(photos) > limit:
        return None
    out = []
    for photo in photos:
        loaded = _fast_photo(photo)
        if loaded is None:
            return None
        out.append(loaded)
    return out


def _fast_results(results):
    """Load a clean results list exactly as the nested ResultInSchema would, or None to let it decide."""
    out = []
    for result in results:
        if type(result) is not dict or not result.keys() <= _RESULT_KEYS:
            return None
        item_id, value, note = result.get("item_id"), result.get("result"), result.get("note")
        if type(item_id) is not int or item_id < 1 or type(value) is not str or value not in _RESULT_SET:
            return None
        if note is not None and (type(note) is not str or len(note) > MAX_NOTE):
            return None
        photos = result.get("photos", [])
        photos = _fast_photos(photos, MAX_ITEM_PHOTOS)
        if photos is None:
            return None
        out.append({"item_id": item_id, "result": value, "note": note, "photos": photos})
    return out


_BODY_KEYS = frozenset({"visit_id", "supersedes", "inspector_ids", "started_at", "finished_at", "location", "results",
                        "scene_photos", "outcome", "notes", "late_reason", "signature_sha256"})
_LOCATION_KEYS = frozenset({"lat", "lon", "accuracy_m"})
_OUTCOME_SET = frozenset(OUTCOMES)


def _fast_time(value):
    if type(value) is not str:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None and parsed.utcoffset() is not None else None


def _fast_text(value, limit: int):
    """Return value if it is None or a short enough string, else the decline sentinel."""
    return value if value is None or (type(value) is str and len(value) <= limit) else _DECLINE


def _fast_body(data):
    """Load a clean body exactly as InspectionInSchema would (without the wire digest), or return None."""
    if type(data) is not dict or not data.keys() <= _BODY_KEYS:
        return None
    visit_id, ids, outcome = data.get("visit_id"), data.get("inspector_ids"), data.get("outcome")
    if type(visit_id) is not int or type(outcome) is not str or outcome not in _OUTCOME_SET:
        return None
    if type(ids) is not list or not 1 <= len(ids) <= 10 or any(type(i) is not int for i in ids):
        return None
    supersedes = data.get("supersedes")
    if supersedes is not None:
        if type(supersedes) is not str:
            return None
        try:
            supersedes = uuid.UUID(supersedes)
        except ValueError:
            return None
    started, finished = _fast_time(data.get("started_at")), _fast_time(data.get("finished_at"))
    if started is None or finished is None:
        return None
    location = data.get("location")
    if location is not None:
        if type(location) is not dict or not location.keys() <= _LOCATION_KEYS:
            return None
        lat = _fast_number(location.get("lat"), -90, 90)
        lon = _fast_number(location.get("lon"), -180, 180)
        acc = _fast_number(location.get("accuracy_m"), 0, 100000)
        if lat is None or lon is None or _DECLINE in (lat, lon, acc):
            return None
        location = {"lat": lat, "lon": lon, "accuracy_m": acc}
    results = data.get("results")
    if type(results) is not list or not 1 <= len(results) <= MAX_ITEMS:
        return None
    results = _fast_results(results)
    scene_photos = _fast_photos(data.get("scene_photos", []), MAX_SCENE_PHOTOS)
    notes = _fast_text(data.get("notes"), MAX_NOTES)
    late_reason = _fast_text(data.get("late_reason"), MAX_NOTE)
    signature = data.get("signature_sha256")
    if signature is not None and (type(signature) is not str or not _HEX64.match(signature)):
        return None
    if results is None or scene_photos is None or notes is _DECLINE or late_reason is _DECLINE:
        return None
    return {"visit_id": visit_id, "supersedes": supersedes, "inspector_ids": ids, "started_at": started,
            "finished_at": finished, "location": location, "results": results, "scene_photos": scene_photos,
            "outcome": outcome, "notes": notes, "late_reason": late_reason, "signature_sha256": signature}


class _FastNestedList(fields.List):
    """A list of nested records with a plain-Python fast path for clean input.

    Measured: marshmallow spends about 10 µs per nested record, most of a sync batch's CPU. Clean
    input (the PWA's own output) is loaded by a loop that accepts only what the nested schema accepts
    and gives the same result (tests/api/test_sync.py checks the two agree); anything else, including
    every error and every unknown field, goes through the nested schema for its exact messages.
    """

    def __init__(self, nested: type[Schema], fast, **kwargs):
        super().__init__(fields.Nested(nested), **kwargs)
        self._fast = fast

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is list:
            loaded = self._fast(value)
            if loaded is not None:
                return loaded
        return super()._deserialize(value, attr, data, **kwargs)


def _float(low: float, high: float, **kwargs):
    return fields.Float(allow_none=True, load_default=None, validate=validate.Range(min=low, max=high), **kwargs)


class PhotoInSchema(_Tolerant):
    """A photo the record expects, addressed by the SHA-256 of its bytes computed on the phone."""

    sha256 = fields.String(required=True, validate=validate.Regexp(SHA256))
    captured_at = fields.AwareDateTime(allow_none=True, load_default=None)
    lat = _float(-90, 90)
    lon = _float(-180, 180)
    accuracy_m = _float(0, 100000)


class ResultInSchema(_Tolerant):
    item_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    result = fields.String(required=True, validate=validate.OneOf(RESULTS))
    note = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=MAX_NOTE))
    photos = _FastNestedList(PhotoInSchema, lambda v: _fast_photos(v, MAX_ITEM_PHOTOS), load_default=list,
                             validate=validate.Length(max=MAX_ITEM_PHOTOS))


class LocationInSchema(_Tolerant):
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    accuracy_m = _float(0, 100000)


class InspectionInSchema(_Tolerant):
    """What a phone sends for one inspection (PUT /inspections/<uuid>, or one entry of POST /sync)."""

    visit_id = fields.Integer(required=True, strict=True)
    supersedes = fields.UUID(allow_none=True, load_default=None)
    inspector_ids = fields.List(fields.Integer(strict=True), required=True, validate=validate.Length(min=1, max=10))
    started_at = fields.AwareDateTime(required=True)
    finished_at = fields.AwareDateTime(required=True)
    location = fields.Nested(LocationInSchema, allow_none=True, load_default=None)
    results = _FastNestedList(ResultInSchema, _fast_results, required=True,
                              validate=validate.Length(min=1, max=MAX_ITEMS))
    scene_photos = _FastNestedList(PhotoInSchema, lambda v: _fast_photos(v, MAX_SCENE_PHOTOS), load_default=list,
                                   validate=validate.Length(max=MAX_SCENE_PHOTOS))
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    notes = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=MAX_NOTES))
    late_reason = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=MAX_NOTE))
    signature_sha256 = fields.String(allow_none=True, load_default=None, validate=validate.Regexp(SHA256))

    _known: tuple | None = None

    def load_with_digest(self, data, digest: str | None):
        """Load a body whose wire digest the caller has already computed (clean bodies by the fast path)."""
        fast = _fast_body(data)
        if fast is not None:
            fast["wire_digest"] = digest
            return fast
        self._known = (data, digest)
        try:
            return self.load(data)
        finally:
            self._known = None

    @pre_load
    def _remember_wire_digest(self, data, **_kwargs):
        known = self._known
        self._wire = known[1] if known is not None and known[0] is data else wire_digest(data)
        return data

    @post_load
    def _attach_wire_digest(self, data, **_kwargs):
        data["wire_digest"] = self._wire
        return data


class InspectionPath(Schema):
    uuid = fields.UUID(required=True)


class SyncInSchema(_Tolerant):
    """A batch of queued inspections; each body is validated on its own so one bad record stops nothing."""

    inspections = fields.List(fields.Dict(), required=True,
                              validate=validate.Length(min=1, max=MAX_BATCH,
                                                       error="Send 1 to {max} inspections per batch."))


class InspectionQuery(Schema):
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    visit_id = fields.Integer(load_default=None)
    round_id = fields.Integer(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(INSPECTION_STATUSES))


# ---- out --------------------------------------------------------------------------------------------


class PhotoSchema(Schema):
    sha256 = fields.String()
    captured_at = fields.DateTime(allow_none=True)
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    accuracy_m = fields.Float(allow_none=True)


class ResultSchema(Schema):
    item_id = fields.Integer()
    result = fields.String()
    note = fields.String(allow_none=True)
    photos = fields.List(fields.Nested(PhotoSchema))


class InspectorSchema(Schema):
    id = fields.Integer()
    full_name = fields.String()
    certificate_no = fields.String(allow_none=True)


class LocationSchema(Schema):
    lat = fields.Float()
    lon = fields.Float()
    accuracy_m = fields.Float(allow_none=True)


class EvidenceStateSchema(Schema):
    expected = fields.List(fields.String())
    present = fields.List(fields.String())
    missing = fields.List(fields.String())


class ReceiptSchema(Schema):
    """What a sync batch acknowledges per stored record: kept small for phones on weak signal.

    The full record is at GET /inspections/<uuid>; the phone already holds what it sent, and needs
    only the server's identity for it and the photos still to upload (`evidence.missing`).
    """

    id = fields.Integer()
    uuid = fields.String()
    visit_id = fields.Integer()
    revision = fields.Integer()
    supersedes = fields.String(allow_none=True)
    status = fields.String()
    outcome = fields.String()
    evidence = fields.Nested(EvidenceStateSchema)
    evidence_complete = fields.Boolean()
    received_at = fields.DateTime()


class InspectionSchema(ReceiptSchema):
    """The stored record: the one success shape of PUT (200 and 201) and GET; a receipt and the content."""

    started_at = fields.DateTime()
    finished_at = fields.DateTime()
    location = fields.Nested(LocationSchema, allow_none=True)
    inspectors = fields.List(fields.Nested(InspectorSchema))
    results = fields.List(fields.Nested(ResultSchema))
    scene_photos = fields.List(fields.Nested(PhotoSchema))
    notes = fields.String(allow_none=True)
    late_reason = fields.String(allow_none=True)
    signature_sha256 = fields.String(allow_none=True)


class SyncErrorSchema(Schema):
    code = fields.String()
    message = fields.String()
    details = fields.Dict()


class SyncResultSchema(Schema):
    uuid = fields.String(allow_none=True)
    status = fields.String()  # created | exists | conflict | locked | invalid | forbidden
    # Built JSON-ready by services.inspections._receipts with exactly ReceiptSchema's keys, and passed
    # through: dumping 200 nested receipts through marshmallow cost more than storing them (measured).
    record = fields.Raw(metadata={"description": "ReceiptSchema: id, uuid, visit_id, revision, supersedes, "
                                                 "status, outcome, evidence, evidence_complete, received_at"})
    error = fields.Raw(metadata={"description": "SyncErrorSchema: code, message, details"})


class SyncOutSchema(Schema):
    results = fields.List(fields.Nested(SyncResultSchema))
