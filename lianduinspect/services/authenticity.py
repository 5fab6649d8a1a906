"""Anomaly flags for a supervisor, computed from the stored record and its photos' facts.

The rules are in ``rules/flags.py``; this module gathers their facts from the database: each
photo's EXIF facts (Evidence) and the phone's own readings (InspectionPhoto), the visit's window,
target and round, copies of the same photo at other visits (by SHA-256) and near copies (by
perceptual hash, in any quarter turn: :func:`near_hashes` looks the hash's 16-bit substrings up in
the indexed columns ``evidence.phash_q0..3``, as ``rules/phash_index.probes`` lists them).

Flags are stored on ``Inspection.flags`` as ``[{code, photo (sha256 or null), values}]``. Call
:func:`refresh_flags` (or :func:`refresh_by_ids`) when a record arrives and :func:`refresh_for_photo`
when a photo does; the review read computes them when they are missing. A reviewed revision's flags stay as the
reviewer saw them.
"""
from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from itertools import compress
from typing import TypeVar

from sqlalchemy import Text, cast, or_, select, text
from sqlalchemy.orm import selectinload

from ..models import Evidence, Inspection, InspectionPhoto, Visit
from ..rules import flags as rules
from ..rules.phash_index import SUBSTRING_BITS, SUBSTRINGS, parse_phash, probes

REFRESHABLE = ("submitted",)  # a decided or superseded revision keeps the flags it was judged on
_CHUNK = 500
# For each photo, every stored hash holding one of the photo's looked-up values in a substring
# column, read from the (phash_qk, phash) indexes alone and joined into one string: 16 hex digits
# each, in no order, a hash found through two columns or turns twice. Each column's looked-up
# values go in one string parameter, a JSON list on SQLite and an array literal on PostgreSQL, each value packed
# with its photo's number above its 16 bits. So the statement's text never changes (the driver
# prepares it once) and Python handles one string per photo, not a row per candidate
# (bench/near_duplicates.py: a third of the time it took with an IN list and a row per candidate).
_LOOKUP_FROM = {
    "sqlite": "json_each(:q{k}) AS p CROSS JOIN evidence AS e",  # CROSS: the values drive the index seeks
    "postgresql": "unnest(CAST(:q{k} AS bigint[])) AS p(value) JOIN evidence AS e",
}
_LIST = {"sqlite": "[]", "postgresql": "{}"}  # a JSON list, an array literal
_AGGREGATE = {"sqlite": "group_concat(phash, '')", "postgresql": "string_agg(phash, '')"}
_LOOKUP = {
    dialect: text(f"SELECT photo, {_AGGREGATE[dialect]} FROM ("
                  + " UNION ALL ".join(f"SELECT p.value >> {SUBSTRING_BITS} AS photo, e.phash FROM {source.format(k=k)}"
                                       f" ON e.phash_q{k} = p.value & {(1 << SUBSTRING_BITS) - 1}"
                                       for k in range(SUBSTRINGS))
                  + ") AS candidates GROUP BY photo")
    for dialect, source in _LOOKUP_FROM.items()
}
K = TypeVar("K")


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


def near_hashes(session, photos: Mapping[K, Sequence[int]], max_distance: int) -> dict[K, dict[str, int]]:
    """Return, for each photo, every stored hash within the distance of any of its turns, with the least distance.

    ``photos`` maps a key to the photo's hash turns as ints (see :func:`rotations`). The database
    finds each photo's candidates through the four indexed substring columns
    (``rules.phash_index.probes``), all photos in one statement, and each candidate is checked
    exactly against that photo's turns.
    """
    keys = list(photos)
    wanted: list[set[int]] = [set() for _ in range(SUBSTRINGS)]  # per column: photo << 16 | value
    for photo, key in enumerate(keys):
        high = photo << SUBSTRING_BITS
        for turn in photos[key]:
            for k, values in probes(turn, max_distance):
                wanted[k].update(map(high.__or__, values))
    if not any(wanted):
        return {}
    dialect = session.get_bind().dialect.name
    # One string per column, written here: psycopg would check each element of a list on its own.
    opening, closing = _LIST[dialect]
    params = {f"q{k}": f"{opening}{','.join(map(str, sorted(column)))}{closing}" for k, column in enumerate(wanted)}
    found: dict[K, dict[str, int]] = {}
    for photo, joined in session.execute(_LOOKUP[dialect], params).all():
        key = keys[photo]
        candidates = array("Q", bytes.fromhex(joined))  # each hash's 8 bytes, big-endian
        if sys.byteorder == "little":
            candidates.byteswap()
        # One popcount per candidate and turn, in C; Python looks only at the matches.
        per_turn = [map(int.bit_count, map(turn.__xor__, candidates)) for turn in photos[key]]
        distances = list(map(min, *per_turn) if len(per_turn) > 1 else per_turn[0])
        close = compress(range(len(distances)), map(max_distance.__ge__, distances))
        hits = {f"{candidates[i]:016x}": distances[i] for i in close}
        if hits:
            found[key] = hits
    return found


class _Elsewhere:
    """Where one refresh's photos were used: exact copies by SHA-256, near ones by perceptual hash."""

    def __init__(self, session, shas: set[str], evidence: Mapping[str, Evidence], max_distance: int):
        self.by_sha: dict[str, list[tuple[int, int]]] = {}
        shas = sorted(shas)
        for start in range(0, len(shas), _CHUNK):
            stmt = (select(InspectionPhoto.sha256, Inspection.visit_id, Visit.target_id).distinct()
                    .join(Inspection, Inspection.id == InspectionPhoto.inspection_id)
                    .join(Visit, Visit.id == Inspection.visit_id)
                    .where(InspectionPhoto.sha256.in_(shas[start:start + _CHUNK])))
            for sha, visit_id, target_id in session.execute(stmt):
                self.by_sha.setdefault(sha, []).append((visit_id, target_id))
        # Looked up in the database for this refresh's photos only, so it is never stale and reads a
        # few index entries per photo rather than every stored hash (bench/near_duplicates.py).
        turns = {sha: [parse_phash(h) for h in rotations(e.phash, e.facts)]
                 for sha, e in evidence.items() if e.phash}
        near = near_hashes(session, turns, max_distance) if turns else {}
        where: dict[str, list[tuple[int, int]]] = {}
        matched = sorted(set().union(*near.values()))
        for start in range(0, len(matched), _CHUNK):
            stmt = (select(Evidence.phash, Inspection.visit_id, Visit.target_id).distinct()
                    .join(InspectionPhoto, InspectionPhoto.sha256 == Evidence.sha256)
                    .join(Inspection, Inspection.id == InspectionPhoto.inspection_id)
                    .join(Visit, Visit.id == Inspection.visit_id)
                    .where(Evidence.phash.in_(matched[start:start + _CHUNK])))
            for phash, visit_id, target_id in session.execute(stmt):
                where.setdefault(phash, []).append((visit_id, target_id))
        self.near: dict[str, list[rules.Dup]] = {
            sha: sorted((rules.Dup("phash", d, *place) for phash, d in hits.items() for place in where.get(phash, ())),
                        key=lambda dup: (dup.distance, dup.visit_id, dup.target_id))
            for sha, hits in near.items()}

    def duplicates(self, sha256: str, evidence: Evidence | None) -> list[rules.Dup]:
        """Return the copies of one photo at any visit, exact and near."""
        dups = [rules.Dup("sha256", 0, v, t) for v, t in self.by_sha.get(sha256, ())]
        if evidence is not None:
            dups.extend(self.near.get(sha256, ()))
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
    elsewhere = _Elsewhere(session, shas, evidence, limits.phash_max_distance)
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


def flags_missing():
    """SQL: the record's flags were never computed (JSON null, as every insert stores None, or SQL NULL)."""
    return or_(Inspection.flags.is_(None), cast(Inspection.flags, Text) == "null")


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


__all__ = ["REFRESHABLE", "closest", "flags_missing", "near_hashes", "refresh_by_ids", "refresh_flags",
           "refresh_for_photo", "refresh_many", "rotations", "thresholds"]
