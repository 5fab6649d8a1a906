"""Inspection bodies as a phone sends them, built from the test world."""
from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from lianduinspect.models import Visit


def sha(label) -> str:
    """Return the SHA-256 of a made-up photo."""
    return hashlib.sha256(f"photo {label}".encode()).hexdigest()


def new_uuid() -> str:
    return str(uuid.uuid4())


def visits_of(session, rnd) -> list[Visit]:
    """Return a round's visits in id order."""
    return list(session.scalars(select(Visit).where(Visit.round_id == rnd.id).order_by(Visit.id)))


def loaded_visits(session, *rounds) -> list[Visit]:
    """Return the rounds' visits in order, their checklists loaded for use after the session closes."""
    found = [visit for rnd in rounds for visit in visits_of(session, rnd)]
    for visit in found:
        for rnd in visit.rounds:
            rnd.scene_version.items  # noqa: B018  (load while the session is open)
    return found


def checklist(visit) -> list:
    """Return a visit's merged checklist: the items of every served round's pinned version, once each."""
    items = {}
    for rnd in visit.rounds:
        for item in rnd.scene_version.items:
            items.setdefault(item.id, item)
    return list(items.values())


def body(world, visit, *, now: datetime, fail=(), outcome=None, inspectors=None, supersedes=None,
         photos_on_fail=True, note=None, **overrides) -> dict:
    """Return the JSON body of an inspection of a visit: every item passes unless its index is in `fail`."""
    items = checklist(visit)
    finished = now - timedelta(minutes=5)
    results = []
    for index, item in enumerate(items):
        failed = index in fail
        results.append({
            "item_id": item.id, "result": "fail" if failed else "pass", "note": note if failed else None,
            "photos": [{"sha256": sha(item.id), "captured_at": (finished - timedelta(minutes=10)).isoformat(),
                        "lat": 28.4501, "lon": 119.9202, "accuracy_m": 6.5}] if failed and photos_on_fail else [],
        })
    data = {
        "visit_id": visit.id, "supersedes": supersedes,
        "inspector_ids": [u.id for u in (inspectors or (world.inspector, world.partner))],
        "started_at": (finished - timedelta(minutes=40)).isoformat(), "finished_at": finished.isoformat(),
        "location": {"lat": 28.4502, "lon": 119.9201, "accuracy_m": 8.0},
        "results": results,
        "scene_photos": [{"sha256": sha(f"scene {visit.id}"), "captured_at": None, "lat": None, "lon": None,
                          "accuracy_m": None}],
        "outcome": outcome or ("rectify" if fail else "pass"),
        "notes": "现场检查", "late_reason": None, "signature_sha256": None,
    }
    data.update(overrides)
    return data


def values(world, visit, **kwargs) -> dict:
    """Return the same body as the ingest schema loads it: the plain values services take."""
    from lianduinspect.schemas.inspections import InspectionInSchema

    return InspectionInSchema().load(body(world, visit, **kwargs))
