"""Anomaly flags for a supervisor, computed from the stored record and its photos' facts.

The rules are in ``rules/flags.py``; this module gathers their facts from the database: each
photo's EXIF facts (Evidence) and the phone's own readings (InspectionPhoto), the visit's window,
target and round, copies of the same photo at other visits (by SHA-256) and near copies (by
perceptual hash, in any quarter turn, through ``rules/phash_index.MultiIndexHash``).

Flags are stored on ``Inspection.flags`` as ``[{code, photo (sha256 or null), values}]``. Call
:func:`refresh_flags` (or :func:`refresh_by_ids`) when a record arrives and :func:`refresh_for_photo`
when a photo does; the review read computes them when they are missing. A reviewed revision's flags stay as the
reviewer saw them.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..models import Evidence, Inspection, InspectionPhoto, Visit
from ..rules import flags as rules
from ..rules.phash_index import MultiIndexHash, parse_phash

REFRESHABLE = ("submitted",)  # a decided or superseded revision keeps the flags it was judged on
_CHUNK = 500


def thresholds(config=None) -> rules.Thresholds:
    """Read the flag thresholds from the app config (the defaults of config.py when None)."""
    if config is None:
        from ..config import from_environment

        config = from_environment({})
    return rules.Thresholds(
        time_tolerance_min=config.get("PHOTO_TIME_TOLERANCE_MIN", 30),
        distance_m=config.get("PHOTO_DISTANCE_M", 500),
        phash_max_distance=config.get("PHASH_MAX_DISTANCE", 8),
        late_days=config.get("LATE_ENTRY_DAYS", 3),
    )


def rotations(phash: str, facts: dict | None = None) -> tuple[str, ...]:
    """Return a photo's perceptual hash in its four quarter turns (0, 90, 180, 270 degrees).

    The imaging module computes them exactly from the DCT and the evidence service keeps them in
    the facts; for a photo stored without them, turn the hash's bits instead: a quarter turn
    transposes the DCT and negates odd frequencies, which flips those bits (the median of the
    coefficients sits near zero), so the result is within a few bits of the exact hash.
    """
    stored = (facts or {}).get("phash_rotations")
    if isinstance(stored, list) and len(stored) == 4 and all(isinstance(h, str) for h in stored):
        return tuple(stored)
    value = parse_phash(phash)

    def bit(a: int, b: int) -> int:
        return (value >> (63 - (a * 8 + b))) & 1

    turned = []
    for quarter in range(4):
        out = 0
        for a in range(8):
            for b in range(8):
                if quarter == 0:
                    x = bit(a, b)
                elif quarter == 1:
                    x = bit(b, a) ^ (b & 1)
                elif quarter == 2:
                    x = bit(a, b) ^ ((a + b) & 1)
                else:
                    x = bit(b, a) ^ (a & 1)
                out = (out << 1) | x
        turned.append(f"{out:016x}")
    return tuple(turned)


def closest(phash: str, facts: dict | None, others: Iterable[str]) -> int | None:
    """Return the smallest distance between a photo, in any quarter turn, and other hashes."""
    best = None
    turns = [parse_phash(h) for h in rotations(phash, facts)]
    for other in others:
        value = parse_phash(other)
        distance = min((value ^ t).bit_count() for t in turns)
        best = distance if best is None else min(best, distance)
    return best


def _exif_time(facts: dict) -> datetime | None:
    """Return the EXIF capture time: naive local time, or aware when the file gave its offset."""
    raw = facts.get("captured_at")
    if not isinstance(raw, str):
        return None
    try:
        when = datetime.fromisoformat(raw)
        offset = facts.get("captured_offset")
        if when.tzinfo is None and isinstance(offset, str):
            when = datetime.fromisoformat(f"{raw[:19]}{offset}")
    except ValueError:
        return None
    return when


def _photo_facts(photo: InspectionPhoto, evidence: Evidence) -> rules.PhotoFacts:
    facts = evidence.facts or {}
    return rules.PhotoFacts(
        sha256=photo.sha256, has_camera_metadata=bool(facts.get("has_camera_metadata")),
        captured_at_exif=_exif_time(facts), captured_at_phone=photo.captured_at,
        gps_lat=facts.get("gps_lat"), gps_lon=facts.get("gps_lon"),
        phone_lat=photo.lat, phone_lon=photo.lon, phone_accuracy_m=photo.accuracy_m,
        make=facts.get("make"), model=facts.get("model"), software=facts.get("software"), phash=evidence.phash)


def _context(inspection: Inspection) -> rules.VisitContext:
    visit = inspection.visit
    created = [r.created_at for r in (visit.round, *visit.rounds) if r is not None]
    return rules.VisitContext(
        target_id=visit.target_id, visit_id=visit.id, target_lat=visit.target.lat, target_lon=visit.target.lon,
        started_at=inspection.started_at, finished_at=inspection.finished_at, round_created_at=min(created),
        submitted_at=inspection.received_at, late_reason=inspection.late_reason)


class _Elsewhere:
    """Every stored photo's visit and target, by SHA-256 and by perceptual hash, for one refresh."""

    def __init__(self, session, shas: set[str], max_distance: int):
        self.by_sha: dict[str, list[tuple[int, int]]] = {}
        shas = sorted(shas)
        for start in range(0, len(shas), _CHUNK):
            stmt = (select(InspectionPhoto.sha256, Inspection.visit_id, Visit.target_id).distinct()
                    .join(Inspection, Inspection.id == InspectionPhoto.inspection_id)
                    .join(Visit, Visit.id == Inspection.visit_id)
                    .where(InspectionPhoto.sha256.in_(shas[start:start + _CHUNK])))
            for sha, visit_id, target_id in session.execute(stmt):
                self.by_sha.setdefault(sha, []).append((visit_id, target_id))
        self.session = session
        self.max_distance = max_distance
        self._index: MultiIndexHash | None = None
        self.where: list[tuple[int, int]] = []

    @property
    def index(self) -> MultiIndexHash:
        """Build the near-duplicate index on first use: records without photos never pay for it."""
        if self._index is not None:
            return self._index
        # Built per refresh from the database, so it is never stale; a district's photos fit in
        # memory and index in well under a second (bench/near_duplicates.py).
        session = self.session
        self._index = MultiIndexHash(max_distance=self.max_distance)
        stmt = (select(Evidence.phash, Inspection.visit_id, Visit.target_id).distinct()
                .join(InspectionPhoto, InspectionPhoto.sha256 == Evidence.sha256)
                .join(Inspection, Inspection.id == InspectionPhoto.inspection_id)
                .join(Visit, Visit.id == Inspection.visit_id)
                .where(Evidence.phash.is_not(None)))
        for phash, visit_id, target_id in session.execute(stmt):
            self._index.add(len(self.where), phash)
            self.where.append((visit_id, target_id))
        return self._index

    def duplicates(self, sha256: str, evidence: Evidence | None) -> list[rules.Dup]:
        """Return the copies of one photo at any visit, exact and near."""
        dups = [rules.Dup("sha256", 0, v, t) for v, t in self.by_sha.get(sha256, ())]
        if evidence is not None and evidence.phash:
            nearest: dict[int, int] = {}
            for turned in rotations(evidence.phash, evidence.facts):
                for position, distance in self.index.search(turned):
                    nearest[position] = min(distance, nearest.get(position, distance))
            dups.extend(rules.Dup("phash", d, *self.where[p]) for p, d in sorted(nearest.items()))
        return dups


def _compute(inspection: Inspection, evidence: dict[str, Evidence], elsewhere: _Elsewhere,
             limits: rules.Thresholds) -> list[dict]:
    ctx = _context(inspection)
    out = [{"code": f.code, "photo": None, "values": f.values} for f in rules.record_flags(ctx, limits)]
    for photo in inspection.photos:
        found = evidence.get(photo.sha256)
        if found is None:
            continue  # not uploaded yet: its flags come when it arrives (refresh_for_photo)
        facts = _photo_facts(photo, found)
        for flag in rules.compute_flags(facts, ctx, limits, elsewhere.duplicates(photo.sha256, found)):
            out.append({"code": flag.code, "photo": photo.sha256, "values": flag.values})
    return out


def refresh_many(session, inspections: list[Inspection], *, now: datetime, config=None, force: bool = False) -> None:
    """Compute and store the flags of several records with one duplicate index."""
    todo = [i for i in inspections if force or i.status in REFRESHABLE or i.flags is None]
    if not todo:
        return
    shas = {p.sha256 for i in todo for p in i.photos}
    evidence = {}
    ordered = sorted(shas)
    for start in range(0, len(ordered), _CHUNK):
        evidence.update((e.sha256, e) for e in session.scalars(
            select(Evidence).where(Evidence.sha256.in_(ordered[start:start + _CHUNK]))))
    limits = thresholds(config)
    elsewhere = _Elsewhere(session, shas, limits.phash_max_distance)
    for inspection in todo:
        inspection.flags = _compute(inspection, evidence, elsewhere, limits)
    session.flush()


def record_only_flags(finished_at: datetime, submitted_at: datetime, late_reason: str | None,
                      config=None) -> list[dict]:
    """Return the flags of a record that expects no photos: nothing will arrive to change them."""
    ctx = rules.VisitContext(target_id=0, visit_id=0, target_lat=None, target_lon=None, started_at=finished_at,
                             finished_at=finished_at, round_created_at=finished_at, submitted_at=submitted_at,
                             late_reason=late_reason)
    return [{"code": f.code, "photo": None, "values": f.values} for f in rules.record_flags(ctx, thresholds(config))]


def refresh_flags(session, inspection: Inspection, *, now: datetime, config=None) -> list[dict]:
    """Compute and store one record's flags (unless a reviewer has decided on it); return them."""
    refresh_many(session, [inspection], now=now, config=config)
    return inspection.flags or []


def refresh_by_ids(session, inspection_ids, *, now: datetime, config=None) -> list[Inspection]:
    """Compute and store the flags of records given by id (for services that insert with Core)."""
    inspections = list(session.scalars(select(Inspection).options(selectinload(Inspection.photos))
                                       .where(Inspection.id.in_(list(inspection_ids))).order_by(Inspection.id)))
    refresh_many(session, inspections, now=now, config=config)
    return inspections


def refresh_for_photo(session, sha256: str, *, now: datetime, config=None) -> list[Inspection]:
    """Recompute the flags of every undecided record that expects this photo; return those records."""
    inspections = list(session.scalars(
        select(Inspection).options(selectinload(Inspection.photos))
        .where(Inspection.status.in_(REFRESHABLE),
               Inspection.id.in_(select(InspectionPhoto.inspection_id).where(InspectionPhoto.sha256 == sha256)))
        .order_by(Inspection.id)))
    refresh_many(session, inspections, now=now, config=config)
    return inspections


__all__ = ["REFRESHABLE", "closest", "refresh_by_ids", "refresh_flags", "refresh_for_photo", "refresh_many",
           "rotations", "thresholds"]
