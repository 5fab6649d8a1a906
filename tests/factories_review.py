"""Factories for review, authenticity, rectification and visit-code tests: rows built directly.

They write what the inspection and evidence services would have stored (records, expected photos,
photo facts, rectifications), without going through those services, so these tests pin only the
rules of supervision.
"""
from __future__ import annotations

import hashlib
import io
import itertools
import random
import uuid as uuidlib
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from sqlalchemy import select

from lianduinspect.models import (ChecklistItem, Evaluation, Evidence, Inspection, InspectionConflict, InspectionPhoto,
                                  ItemResult, Rectification, Review, Visit)
from lianduinspect.rules.periods import BUREAU_TZ

_counter = itertools.count(1)

# The world's round runs 2023-04-01..2023-05-01 (Lishui); the `now` fixture is 2023-04-10 10:00 local.
STARTED = datetime(2023, 4, 9, 1, 0, tzinfo=timezone.utc)


def sha(label: str | None = None) -> str:
    """Return a SHA-256 hex digest, distinct per call unless a label is given."""
    return hashlib.sha256((label or f"photo-{next(_counter)}-{uuidlib.uuid4()}").encode()).hexdigest()


def visits_of(session, rnd) -> list[Visit]:
    """Return a round's visits in id order."""
    return list(session.scalars(select(Visit).where(Visit.round_id == rnd.id).order_by(Visit.id)))


def items_of(session, visit) -> list[ChecklistItem]:
    """Return the checklist items of the visit's round's pinned scene version."""
    return list(session.scalars(select(ChecklistItem).where(
        ChecklistItem.scene_version_id == visit.round.scene_version_id).order_by(ChecklistItem.position)))


def camera_facts(captured_at: datetime | None = None, *, gps: tuple[float, float] | None = None,
                 make: str | None = "HUAWEI", model: str | None = "ELS-AN00", software: str | None = None,
                 **extra) -> dict:
    """Return the facts the imaging module reads from a phone photo (capture time as naive local ISO)."""
    local = captured_at.astimezone(BUREAU_TZ).replace(tzinfo=None).isoformat() if captured_at else None
    facts = {"exif_present": True, "exif_readable": True, "captured_at": local, "captured_offset": None,
             "gps_lat": gps[0] if gps else None, "gps_lon": gps[1] if gps else None, "make": make,
             "model": model, "software": software, "orientation": 1}
    facts["has_camera_metadata"] = any(facts[k] is not None for k in ("make", "model", "captured_at", "gps_lat"))
    facts.update(extra)
    return facts


def bare_facts() -> dict:
    """Return the facts of a photo with no EXIF at all (a screenshot, a forwarded picture)."""
    return {"exif_present": False, "exif_readable": False, "captured_at": None, "captured_offset": None,
            "gps_lat": None, "gps_lon": None, "make": None, "model": None, "software": None, "orientation": None,
            "has_camera_metadata": False}


def make_evidence(session, sha256: str | None = None, *, uploaded_by, facts: dict | None = None,
                  phash: str | None = None, at: datetime | None = None, **kw) -> Evidence:
    """Store a photo's facts as the evidence service does (the bytes themselves are not needed)."""
    evidence = Evidence(**{"sha256": sha256 or sha(), "size": 123_456, "format": "jpeg", "width": 1600,
                           "height": 1200, "facts": facts if facts is not None else camera_facts(STARTED),
                           "phash": phash if phash is not None else f"{random.getrandbits(64):016x}",
                           "uploaded_by_id": uploaded_by.id, "uploaded_at": at or STARTED + timedelta(hours=2),
                           **kw})
    session.add(evidence)
    session.flush()
    return evidence


def make_inspection(session, visit, inspectors, *, results: dict | None = None, photos=(), status: str = "submitted",
                    outcome: str = "pass", revision: int = 1, supersedes: Inspection | None = None,
                    started_at: datetime | None = None, finished_at: datetime | None = None,
                    received_at: datetime | None = None, evidence_complete: bool | None = None,
                    late_reason: str | None = None, notes: str | None = None, flags=None, submitted_by=None,
                    location: tuple[float, float] | None = None) -> Inspection:
    """Store one revision of a visit's record with its item results and expected photos.

    ``results`` maps item id to a result or ``(result, note)``; items not named pass. ``photos`` are
    dicts of ``sha256`` and optionally ``item_id``, ``captured_at``, ``lat``, ``lon``, ``accuracy_m``.
    """
    started = started_at or STARTED
    finished = finished_at or started + timedelta(hours=1)
    results = results or {}
    photos = [dict(p) for p in photos]
    if evidence_complete is None:
        present = set(session.scalars(select(Evidence.sha256).where(Evidence.sha256.in_([p["sha256"] for p in photos]))))
        evidence_complete = all(p["sha256"] in present for p in photos)
    target = visit.target
    lat, lon = location or (target.lat, target.lon)
    inspection = Inspection(
        uuid=str(uuidlib.uuid4()), visit_id=visit.id, revision=revision,
        supersedes_id=supersedes.id if supersedes is not None else None, status=status,
        submitted_by_id=(submitted_by or inspectors[0]).id, started_at=started, finished_at=finished,
        lat=lat, lon=lon, accuracy_m=12.0, outcome=outcome, notes=notes, late_reason=late_reason,
        body_digest=sha(), evidence_complete=evidence_complete, flags=flags,
        received_at=received_at or finished + timedelta(minutes=10))
    inspection.inspectors = list(inspectors)
    for item in items_of(session, visit):
        given = results.get(item.id, "pass")
        result, note = given if isinstance(given, tuple) else (given, None)
        inspection.results.append(ItemResult(item_id=item.id, result=result, note=note))
    for photo in photos:
        inspection.photos.append(InspectionPhoto(
            sha256=photo["sha256"], item_id=photo.get("item_id"),
            captured_at=photo.get("captured_at", started + timedelta(minutes=20)),
            lat=photo.get("lat"), lon=photo.get("lon"), accuracy_m=photo.get("accuracy_m")))
    session.add(inspection)
    if supersedes is not None:
        supersedes.status = "superseded"
    visit.status = "inspected"
    session.flush()
    return inspection


def make_rectification(session, inspection, item_id: int, *, deadline: datetime, status: str = "open",
                       before_sha256: str | None = None, **kw) -> Rectification:
    """Open a rectification for a failed item of a record (as the inspection service does)."""
    visit = session.get(Visit, inspection.visit_id)
    rect = Rectification(**{"inspection_id": inspection.id, "item_id": item_id, "target_id": visit.target_id,
                            "squad_id": visit.round.squad_id, "status": status, "deadline": deadline,
                            "before_sha256": before_sha256, "lookback": False,
                            "opened_at": inspection.received_at, **kw})
    session.add(rect)
    session.flush()
    return rect


def make_review(session, inspection, reviewer, decision: str, *, reason: str | None = None,
                item_comments: dict | None = None, at: datetime | None = None) -> Review:
    """Record a decision on a revision directly (the review service is what tests exercise)."""
    review = Review(inspection_id=inspection.id, reviewer_id=reviewer.id, decision=decision, reason=reason,
                    item_comments=item_comments, created_at=at or inspection.received_at + timedelta(hours=1))
    inspection.status = decision
    session.add(review)
    session.flush()
    return review


def make_evaluation(session, visit, rating: int, *, comment: str | None = None, on=None) -> Evaluation:
    """Store one anonymous rating of a visit."""
    evaluation = Evaluation(visit_id=visit.id, rating=rating, comment=comment,
                            created_on=on or datetime(2023, 3, 15).date())
    session.add(evaluation)
    session.flush()
    return evaluation


# --- pictures --------------------------------------------------------------------------------------


def scene_image(seed: int, size=(640, 480)):
    """Draw a busy, blurred picture (shapes on a background) that perceptual hashes tell apart."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(seed)
    im = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(im)
    for _ in range(25):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        draw.rectangle([x, y, x + rng.randrange(40, 300), y + rng.randrange(40, 300)],
                       fill=tuple(rng.randrange(256) for _ in range(3)))
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        draw.ellipse([x, y, x + rng.randrange(20, 200), y + rng.randrange(20, 200)],
                     fill=tuple(rng.randrange(256) for _ in range(3)))
    return im.filter(ImageFilter.GaussianBlur(2))


def jpeg(im, quality: int = 90) -> bytes:
    """Encode a picture as JPEG bytes."""
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality)
    return out.getvalue()


def evidence_from_bytes(session, data: bytes, *, uploaded_by, facts: dict | None = None,
                        keep_rotations: bool = True) -> Evidence:
    """Run real bytes through the imaging module and store what the evidence service would."""
    from lianduinspect.imaging import process

    processed = process(data)
    stored = dict(processed.facts if facts is None else facts)
    if keep_rotations:
        stored["phash_rotations"] = list(processed.phash_rotations)
    return make_evidence(session, hashlib.sha256(data).hexdigest(), uploaded_by=uploaded_by, facts=stored,
                         phash=processed.phash)


# --- the role × endpoint matrix ------------------------------------------------------------------


def issue6_rows(session, world) -> SimpleNamespace:
    """Make (once per world) a submitted record with a failed item, its rectification, and a kept conflict."""
    made = getattr(world, "_issue6", None)
    if made is not None:
        return made
    visit = visits_of(session, world.round)[0]
    item = items_of(session, visit)[0]
    before = make_evidence(session, uploaded_by=world.inspector)
    inspection = make_inspection(session, visit, [world.inspector, world.partner], outcome="rectify",
                                 results={item.id: ("fail", "灭火器过期")},
                                 photos=[{"sha256": before.sha256, "item_id": item.id}])
    rect = make_rectification(session, inspection, item.id, deadline=STARTED + timedelta(days=7),
                              before_sha256=before.sha256)
    kept = InspectionConflict(uuid=inspection.uuid, body={"visit_id": visit.id, "outcome": "pass", "results": []},
                              body_digest="0" * 64, submitted_by_id=world.inspector.id, received_at=STARTED,
                              visit_id=visit.id, reason="same_uuid")
    session.add(kept)
    session.commit()
    made = SimpleNamespace(inspection_id=inspection.id, rectification_id=rect.id, code=visit.code,
                           conflict_id=kept.id)
    world._issue6 = made
    return made


class Prepared(str):
    """A route template naming rows the shared world lacks; they are made on first use.

    Formatted like the other templates (with ``w``, the world), plus ``r``: :func:`issue6_rows`.
    """

    def format(self, *args, **kwargs):
        from lianduinspect.db import db

        world = kwargs["w"]
        return str.format(self, *args, r=issue6_rows(db.session, world), **kwargs)
