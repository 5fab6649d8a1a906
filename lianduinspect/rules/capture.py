"""Rules of capturing an inspection (DESIGN.md §3): digests, the two-officer rule, the checklist, outcomes.

Pure rules: no Flask, no SQLAlchemy, no clock. Bodies arrive as the plain dicts the ingest schema
loads (datetimes aware); reference data arrives as small frozen records.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .chain import canonical

# How long an enterprise has to put a failed item right, by the item's severity.
RECTIFY_DAYS = {"high": 7, "medium": 15, "low": 30}
# Phones' clocks drift; a record finishing further ahead of the server's clock than this is refused.
FUTURE_TOLERANCE = timedelta(minutes=10)
# A revision a supervisor has decided on is locked: corrections come as new revisions.
REVIEWED = frozenset({"approved", "rejected", "needs_evidence"})
MIN_OFFICERS = 2  # 《行政处罚法》: enforcement by no fewer than two officers holding certificates


@dataclass(frozen=True)
class Item:
    """A checklist item as the rules need it."""

    id: int
    severity: str
    photo_required_on_fail: bool


@dataclass(frozen=True)
class Officer:
    """A user named as an inspector, as the two-officer rule needs it."""

    id: int
    active: bool
    certificate_no: str | None


def _utc(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(timezone.utc).isoformat()


def _photo(photo: dict) -> dict:
    return {"sha256": photo["sha256"], "captured_at": _utc(photo.get("captured_at")), "lat": photo.get("lat"),
            "lon": photo.get("lon"), "accuracy_m": photo.get("accuracy_m")}


def canonical_body(values: dict) -> dict:
    """Return the normalised body as JSON values: times in UTC, results by item, inspectors sorted.

    Photo order is kept: an item's first photo is the rectification's "before" picture.
    """
    location = values.get("location")
    return {
        "visit_id": values["visit_id"],
        "supersedes": None if values.get("supersedes") is None else str(values["supersedes"]),
        "inspector_ids": sorted(values["inspector_ids"]),
        "started_at": _utc(values["started_at"]),
        "finished_at": _utc(values["finished_at"]),
        "location": None if location is None else {"lat": location["lat"], "lon": location["lon"],
                                                   "accuracy_m": location.get("accuracy_m")},
        "results": [{"item_id": r["item_id"], "result": r["result"], "note": r.get("note"),
                     "photos": [_photo(p) for p in r.get("photos") or ()]}
                    for r in sorted(values["results"], key=lambda r: r["item_id"])],
        "scene_photos": [_photo(p) for p in values.get("scene_photos") or ()],
        "outcome": values["outcome"],
        "notes": values.get("notes"),
        "late_reason": values.get("late_reason"),
        "signature_sha256": values.get("signature_sha256"),
    }


def body_digest(values: dict) -> str:
    """Return the SHA-256 of the canonical body: equal digests are the same inspection."""
    return hashlib.sha256(canonical(canonical_body(values))).hexdigest()


def wire_digest(raw: Any) -> str | None:
    """Return the SHA-256 of a body exactly as sent (canonical JSON), or None if it has no canonical form.

    Equal wire digests imply equal loaded bodies, so a replay can be recognised before validation.
    """
    try:
        return hashlib.sha256(canonical(raw)).hexdigest()
    except (TypeError, ValueError):
        return None


def expected_photos(values: dict) -> list[tuple[str, int | None, dict]]:
    """Return (sha256, item_id or None for the scene, photo) for every photo the record names, in order."""
    out = [(p["sha256"], r["item_id"], p) for r in values["results"] for p in r.get("photos") or ()]
    out.extend((p["sha256"], None, p) for p in values.get("scene_photos") or ())
    return out


def replay_decision(stored_digest: str, stored_status: str, digest: str) -> str:
    """Decide what a body under a stored UUID is: "exists" (a safe retry), "locked" or "conflict"."""
    if stored_digest == digest:
        return "exists"
    return "locked" if stored_status in REVIEWED else "conflict"


def rectification_deadline(finished_at: datetime, severity: str) -> datetime:
    """Return when a failed item must be put right, counted from the end of the inspection."""
    return finished_at + timedelta(days=RECTIFY_DAYS[severity])


def officer_errors(inspector_ids: list[int], officers: dict[int, Officer]) -> list[str]:
    """Check the two-officer rule: at least two distinct, active inspectors holding certificates."""
    errors = []
    if len(set(inspector_ids)) != len(inspector_ids):
        errors.append("An inspector is listed twice.")
    for uid in dict.fromkeys(inspector_ids):
        officer = officers.get(uid)
        if officer is None:
            errors.append(f"No such user: {uid}.")
        elif not officer.active:
            errors.append(f"User {uid} is disabled.")
        elif not officer.certificate_no:
            errors.append(f"User {uid} holds no enforcement certificate (执法证).")
    if len(set(inspector_ids)) < MIN_OFFICERS:
        errors.append("At least two certified inspectors must take part (《行政处罚法》第四十二条).")
    return errors


def field_errors(values: dict, *, checklist: dict[int, Item], officers: dict[int, Officer],
                 now: datetime) -> dict:
    """Return {field: messages} for every rule the body breaks against its visit's merged checklist."""
    errors: dict[str, Any] = {}
    officer = officer_errors(values["inspector_ids"], officers)
    if officer:
        errors["inspector_ids"] = officer

    results = values["results"]
    result_errors: dict[Any, Any] = {}
    listed: set[int] = set()
    twice: set[int] = set()
    for r in results:
        (twice if r["item_id"] in listed else listed).add(r["item_id"])
    repeated = sorted(twice)
    missing = [i for i in checklist if i not in listed]
    foreign = sorted(i for i in listed if i not in checklist)
    general = []
    if repeated:
        general.append(f"Items {repeated} have more than one result.")
    if missing:
        general.append(f"Items {missing} of this visit's checklist have no result.")
    if foreign:
        general.append(f"Items {foreign} are not on this visit's checklist.")
    if general:
        result_errors["_schema"] = general
    for index, result in enumerate(results):
        item = checklist.get(result["item_id"])
        # Every failure the law needs evidence for must come with at least one photo.
        if item and result["result"] == "fail" and item.photo_required_on_fail and not result.get("photos"):
            result_errors[index] = {"photos": ["A failed item needs at least one photo."]}
    if result_errors:
        errors["results"] = result_errors

    shas = [sha for sha, _item, _photo in expected_photos(values)]
    if len(set(shas)) != len(shas):
        errors["scene_photos"] = ["A photo appears twice in this record; list each photo once."]

    fails = sum(1 for r in results if r["result"] == "fail")
    if values["outcome"] == "pass" and fails:
        errors["outcome"] = ["An inspection with failed items cannot pass."]
    elif values["outcome"] == "rectify" and not fails:
        errors["outcome"] = ["Rectification needs at least one failed item."]

    if values["finished_at"] < values["started_at"]:
        errors["finished_at"] = ["Finishes before it starts."]
    elif values["finished_at"] > now + FUTURE_TOLERANCE:
        errors["finished_at"] = ["Finishes in the future; check the phone's clock."]
    return errors
