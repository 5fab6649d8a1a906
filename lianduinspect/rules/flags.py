"""Automatic anomaly flags a supervisor sees beside each photo and inspection record.

A flag is a prompt to look, not a verdict: each carries the facts that raised it (which clock,
which distance, which other visit) so the supervisor can judge it. The caller gathers the facts
(EXIF, the phone's own readings, duplicate hashes found at other visits) into plain dataclasses.

Flag codes and what their ``values`` hold:

- ``time_outside_visit``: ``clock`` (``"exif"`` or ``"phone"``), ``captured``, ``window``
  (the visit's ``[started, finished]``), ``tolerance_min``.
- ``before_round``: ``clock``, ``captured``, ``round_created_at``, ``tolerance_min``.
- ``gps_far``: ``source`` (``"exif"`` or ``"phone"``), ``distance_m``, ``accuracy_m``
  (``None`` when unknown), ``limit`` (metres, before the accuracy is added).
- ``same_photo_elsewhere``: ``others``, a list of ``{visit_id, target_id}``.
- ``near_duplicate_elsewhere``: ``distance`` (the closest), ``limit``, ``others``, a list of
  ``{visit_id, target_id, distance}``, closest first.
- ``no_camera_metadata``: nothing.
- ``editing_software``: ``software`` (as written in the file), ``editor`` (the editor it names).
- ``late_entry`` (record-level): ``finished_at``, ``submitted_at``, ``days``, ``limit_days``.

Times in ``values`` are ISO 8601 in UTC, as everywhere in the API.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from .geo import haversine_m
from .periods import BUREAU_TZ

__all__ = [
    "FLAG_CODES",
    "Dup",
    "Flag",
    "PhotoFacts",
    "Thresholds",
    "VisitContext",
    "compute_flags",
    "editor_named",
    "record_flags",
]

Id = int | str

FLAG_CODES: tuple[str, ...] = (
    "time_outside_visit",
    "before_round",
    "gps_far",
    "same_photo_elsewhere",
    "near_duplicate_elsewhere",
    "no_camera_metadata",
    "editing_software",
    "late_entry",
)

# Editors and beautifying apps that write their name into EXIF Software. Latin names must stand
# as words ("VSCO", not a substring of a firmware string); Chinese names are matched anywhere,
# since Chinese has no spaces to bound a word.
_EDITORS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("Photoshop", r"\bphotoshop\b"),
        ("Lightroom", r"\blightroom\b"),
        ("GIMP", r"\bgimp\b"),
        ("Snapseed", r"\bsnapseed\b"),
        ("美图秀秀", r"美图|\bmeitu\b|\bmtxx\b"),
        ("美颜相机", r"美颜相机|\bbeautycam\b"),
        ("醒图", r"醒图|\bhypic\b"),
        ("PicsArt", r"\bpicsart\b"),
        ("VSCO", r"\bvsco\b"),
        ("天天P图", r"天天\s*p图"),
        ("黄油相机", r"黄油相机"),
        ("Facetune", r"\bfacetune\b"),
        ("Pixelmator", r"\bpixelmator\b"),
        ("Affinity Photo", r"\baffinity photo\b"),
        ("Paint.NET", r"\bpaint\.net\b"),
        ("PhotoScape", r"\bphotoscape\b"),
        ("Polarr", r"\bpolarr\b"),
        ("Fotor", r"\bfotor\b"),
        ("Luminar", r"\bluminar\b"),
        ("Capture One", r"\bcapture one\b"),
        ("darktable", r"\bdarktable\b"),
        ("RawTherapee", r"\brawtherapee\b"),
        ("ACDSee", r"\bacdsee\b"),
    )
)


@dataclass(frozen=True, kw_only=True)
class PhotoFacts:
    """What a photo says about itself (EXIF) and what the phone recorded when it was taken.

    ``captured_at_exif`` is the camera's naive local time, read as Asia/Shanghai;
    ``captured_at_phone`` is aware. ``phone_accuracy_m`` is the phone fix's radius in metres.
    """

    sha256: str
    has_camera_metadata: bool
    captured_at_exif: datetime | None = None
    captured_at_phone: datetime | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    phone_lat: float | None = None
    phone_lon: float | None = None
    phone_accuracy_m: float | None = None
    make: str | None = None
    model: str | None = None
    software: str | None = None
    phash: str | None = None


@dataclass(frozen=True, kw_only=True)
class VisitContext:
    """The visit a photo was submitted with; every datetime is aware."""

    target_id: Id
    visit_id: Id
    target_lat: float | None
    target_lon: float | None
    started_at: datetime
    finished_at: datetime
    round_created_at: datetime
    submitted_at: datetime
    late_reason: str | None = None


@dataclass(frozen=True)
class Thresholds:
    """How far a fact may stray before it is flagged."""

    time_tolerance_min: float = 30
    distance_m: float = 500
    phash_max_distance: int = 8
    late_days: float = 3


@dataclass(frozen=True)
class Dup:
    """Another stored photo equal to this one (``"sha256"``) or close to it (``"phash"``)."""

    kind: Literal["sha256", "phash"]
    distance: int
    visit_id: Id
    target_id: Id


@dataclass(frozen=True)
class Flag:
    """One anomaly: a code from ``FLAG_CODES`` and the facts that raised it."""

    code: str
    values: dict[str, Any]


def compute_flags(
    photo: PhotoFacts,
    ctx: VisitContext,
    thresholds: Thresholds = Thresholds(),
    duplicates: Sequence[Dup] = (),
) -> list[Flag]:
    """Return the anomaly flags for one photo of a visit, in ``FLAG_CODES`` order."""
    tolerance = timedelta(minutes=thresholds.time_tolerance_min)
    captures = _capture_times(photo)
    flags: list[Flag] = []

    started = _aware(ctx.started_at, "started_at")
    finished = _aware(ctx.finished_at, "finished_at")
    for clock, captured in captures:
        if not started - tolerance <= captured <= finished + tolerance:
            flags.append(Flag("time_outside_visit", {
                "clock": clock,
                "captured": _iso(captured),
                "window": [_iso(started), _iso(finished)],
                "tolerance_min": thresholds.time_tolerance_min,
            }))

    round_created = _aware(ctx.round_created_at, "round_created_at")
    for clock, captured in captures:
        # The same tolerance as for the visit: an ad-hoc round is often created minutes before
        # the visit, and a camera clock a few minutes fast must not make every photo "before".
        if captured < round_created - tolerance:
            flags.append(Flag("before_round", {
                "clock": clock,
                "captured": _iso(captured),
                "round_created_at": _iso(round_created),
                "tolerance_min": thresholds.time_tolerance_min,
            }))

    flags.extend(_gps_flags(photo, ctx, thresholds))
    flags.extend(_duplicate_flags(ctx, thresholds, duplicates))

    if not photo.has_camera_metadata:
        flags.append(Flag("no_camera_metadata", {}))

    editor = editor_named(photo.software)
    if editor is not None:
        flags.append(Flag("editing_software", {"software": photo.software, "editor": editor}))
    return flags


def record_flags(ctx: VisitContext, thresholds: Thresholds = Thresholds()) -> list[Flag]:
    """Return the flags of an inspection record itself, not of any one photo."""
    finished = _aware(ctx.finished_at, "finished_at")
    submitted = _aware(ctx.submitted_at, "submitted_at")
    delay = submitted - finished
    # Days without signal are normal (the outbox waits); a late entry is only a flag when the
    # inspector gave no reason for it.
    if delay > timedelta(days=thresholds.late_days) and not (ctx.late_reason or "").strip():
        return [Flag("late_entry", {
            "finished_at": _iso(finished),
            "submitted_at": _iso(submitted),
            "days": round(delay / timedelta(days=1), 1),
            "limit_days": thresholds.late_days,
        })]
    return []


def editor_named(software: str | None) -> str | None:
    """Return the editing app an EXIF Software string names, if any."""
    if not software:
        return None
    for name, pattern in _EDITORS:
        if pattern.search(software):
            return name
    return None


def _capture_times(photo: PhotoFacts) -> list[tuple[str, datetime]]:
    """Return each clock's capture time the photo has, as aware datetimes."""
    times = []
    if photo.captured_at_exif is not None:
        exif = photo.captured_at_exif
        # EXIF DateTimeOriginal has no zone; cameras here are set to Beijing time. A parser that
        # found OffsetTimeOriginal may already have attached one, which then wins.
        times.append(("exif", exif if exif.tzinfo is not None else exif.replace(tzinfo=BUREAU_TZ)))
    if photo.captured_at_phone is not None:
        times.append(("phone", _aware(photo.captured_at_phone, "captured_at_phone")))
    return times


def _gps_flags(photo: PhotoFacts, ctx: VisitContext, thresholds: Thresholds) -> Iterable[Flag]:
    """Yield a gps_far flag for each position source that is too far from the target."""
    target_lat, target_lon = ctx.target_lat, ctx.target_lon
    if target_lat is None or target_lon is None or not _usable(target_lat, target_lon):
        return  # a target registered without GPS has nothing to be far from
    sources = (
        ("exif", photo.gps_lat, photo.gps_lon, None),  # EXIF carries no usable accuracy
        ("phone", photo.phone_lat, photo.phone_lon, photo.phone_accuracy_m),
    )
    for source, lat, lon, accuracy in sources:
        if lat is None or lon is None or not _usable(lat, lon):
            continue  # no fix is not evidence of being elsewhere
        distance = haversine_m(target_lat, target_lon, lat, lon)
        if accuracy is not None and not (math.isfinite(accuracy) and accuracy >= 0):
            accuracy = None  # a negative or NaN accuracy is no accuracy at all
        # The true position may be anywhere within the accuracy radius; flag only a point that
        # would be too far even at the near edge of that circle.
        if distance > thresholds.distance_m + (accuracy or 0):
            yield Flag("gps_far", {
                "source": source,
                "distance_m": round(distance),
                "accuracy_m": accuracy,
                "limit": thresholds.distance_m,
            })


def _duplicate_flags(
    ctx: VisitContext, thresholds: Thresholds, duplicates: Sequence[Dup]
) -> Iterable[Flag]:
    """Yield flags for copies of the photo found at other visits of other targets."""
    # The anomaly is evidence borrowed from another target. A picture repeated within one visit,
    # or across visits of the same target, is not that; an old one is caught by its capture time.
    elsewhere = [
        dup for dup in duplicates if dup.visit_id != ctx.visit_id and dup.target_id != ctx.target_id
    ]

    same: dict[tuple[Id, Id], None] = {}  # insertion-ordered set
    for dup in elsewhere:
        if dup.kind == "sha256":
            same.setdefault((dup.visit_id, dup.target_id))
    if same:
        yield Flag("same_photo_elsewhere", {
            "others": [{"visit_id": v, "target_id": t} for v, t in same],
        })

    near: dict[tuple[Id, Id], int] = {}
    for dup in elsewhere:
        key = (dup.visit_id, dup.target_id)
        # A visit already named for an identical copy needs no second, weaker flag.
        if dup.kind != "phash" or dup.distance > thresholds.phash_max_distance or key in same:
            continue
        near[key] = min(dup.distance, near.get(key, dup.distance))
    if near:
        others = sorted(near.items(), key=lambda item: item[1])
        yield Flag("near_duplicate_elsewhere", {
            "distance": others[0][1],
            "limit": thresholds.phash_max_distance,
            "others": [{"visit_id": v, "target_id": t, "distance": d} for (v, t), d in others],
        })


def _usable(lat: float, lon: float) -> bool:
    """Tell whether a coordinate pair is a real position fix."""
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return False
    # Phones and cameras without a fix write 0/0 ("null island"); nothing is inspected there.
    return abs(lat) <= 90 and abs(lon) <= 180 and (lat, lon) != (0.0, 0.0)


def _aware(value: datetime, name: str) -> datetime:
    """Return ``value``, refusing a naive datetime whose zone would be a guess."""
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return value


def _iso(value: datetime) -> str:
    """Format an aware datetime as ISO 8601 in UTC."""
    return value.astimezone(timezone.utc).isoformat()
