"""Photo evidence: originals kept byte for byte under their SHA-256, derivatives and facts beside them.

Bytes are written and fsynced before the row commits, so an acknowledged photo always has its
original on disk; an upload can resume where it stopped (offset-based, like tus).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from .. import imaging
from ..db import lock_photo_buckets
from ..errors import ApiError, NotFound
from ..models import Evidence, Inspection, InspectionPhoto, Round, Visit
from ..storage import OffsetMismatch
from . import audit, authenticity, inspections


def display_key(sha256: str) -> str:
    return f"{sha256}.display.jpg"


def thumb_key(sha256: str) -> str:
    return f"{sha256}.thumb.jpg"


@dataclass
class Upload:
    """Where an upload stands: bytes held, and the evidence row once complete."""

    sha256: str
    offset: int
    evidence: Evidence | None
    created: bool = False


def status(session, storage, sha256: str) -> Upload:
    """Tell how many bytes of this photo the server holds."""
    evidence = session.get(Evidence, sha256)
    if evidence is not None:
        return Upload(sha256, evidence.size, evidence)
    return Upload(sha256, storage.partial_size(sha256), None)


def _process(data: bytes, limits: imaging.Limits):
    try:
        return imaging.process(data, limits)
    except imaging.ImageRejected as err:
        raise ApiError(err.code, err.message, err.details) from None


def store(session, actor, sha256: str, data: bytes, *, storage, limits: imaging.Limits, now: datetime,
          config=None) -> Upload:
    """Keep a whole photo: check its hash, judge it by decoding, store original and derivatives."""
    existing = session.get(Evidence, sha256)
    if existing is not None:
        return Upload(sha256, existing.size, existing)  # the same bytes again: harmless
    computed = hashlib.sha256(data).hexdigest()
    if computed != sha256:
        raise ApiError("evidence.hash_mismatch", details={"computed": computed, "size": len(data)})
    processed = _process(data, limits)
    # Original first, fsynced by the store; the row that points at it commits after.
    storage.put(sha256, data)
    storage.put(display_key(sha256), processed.display)
    storage.put(thumb_key(sha256), processed.thumbnail)
    evidence = Evidence(sha256=sha256, size=len(data), format=processed.format, width=processed.width,
                        height=processed.height, facts={**processed.facts,
                                                        "phash_rotations": list(processed.phash_rotations)},
                        phash=processed.phash, uploaded_by_id=actor.id, uploaded_at=now)
    lock_photo_buckets(session, [sha256])  # see db.lock_photo_buckets: no lost "complete" flag
    try:
        with session.begin_nested():
            session.add(evidence)
    except IntegrityError:
        # Another request stored the same photo a moment ago: that row is the answer.
        return Upload(sha256, len(data), session.get(Evidence, sha256))
    completed = inspections.refresh_evidence_complete(session, sha256)
    authenticity.refresh_for_photo(session, sha256, now=now, config=config)
    audit.record(session, actor, "evidence.upload", "evidence", sha256,
                 {"size": len(data), "format": processed.format,
                  "completes": [i.uuid for i in completed]}, now=now)
    session.flush()
    return Upload(sha256, len(data), evidence, created=True)


def append(session, actor, sha256: str, offset: int, total: int, chunk: bytes, *, storage,
           limits: imaging.Limits, now: datetime, config=None) -> Upload:
    """Append a chunk at the offset the server holds; finish the photo when all bytes are in."""
    existing = session.get(Evidence, sha256)
    if existing is not None:
        return Upload(sha256, existing.size, existing)
    if total > limits.max_bytes:
        raise ApiError("evidence.too_large", details={"size": total, "max_bytes": limits.max_bytes})
    if total <= 0:
        raise ApiError("evidence.empty")
    if offset + len(chunk) > total:
        raise ApiError("validation", details={"Upload-Length": ["The chunk runs past the declared length."]})
    try:
        held = storage.append_partial(sha256, offset, chunk)
    except OffsetMismatch as err:
        raise ApiError("evidence.offset_mismatch", details={"offset": err.current}) from None
    if held < total:
        return Upload(sha256, held, None)
    data = storage.read_partial(sha256)
    try:
        upload = store(session, actor, sha256, data, storage=storage, limits=limits, now=now, config=config)
    except ApiError:
        storage.discard_partial(sha256)  # a wrong or unreadable photo starts over
        raise
    return upload


def discard_partial(storage, sha256: str) -> None:
    """Drop a finished upload's partial bytes (after the row committed)."""
    storage.discard_partial(sha256)


def _visible(session, user, sha256: str) -> bool:
    """Return whether the user may see this photo: squad's inspections, own uploads, or oversight."""
    if user.has("supervisor", "admin"):
        return True
    evidence = session.get(Evidence, sha256)
    if evidence is not None and evidence.uploaded_by_id == user.id:
        return True
    used_in_squad = (select(InspectionPhoto.id)
                     .join(Inspection, Inspection.id == InspectionPhoto.inspection_id)
                     .join(Visit, Visit.id == Inspection.visit_id)
                     .join(Round, Round.id == Visit.round_id)
                     .where(InspectionPhoto.sha256 == sha256, Round.squad_id == user.squad_id))
    return bool(session.scalar(select(exists(used_in_squad))))


def get_visible(session, user, sha256: str) -> Evidence:
    """Return the evidence row if it exists and the user may see it; 404 otherwise (no leak)."""
    evidence = session.get(Evidence, sha256)
    if evidence is None or not _visible(session, user, sha256):
        raise NotFound("evidence")
    return evidence


def open_blob(storage, key: str):
    """Open a stored blob for streaming."""
    return storage.open(key)
