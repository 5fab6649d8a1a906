"""Scenes: editing one adds a version, so rounds keep the checklist they were generated with."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ..errors import ApiError, NotFound, ValidationFailed
from ..models import ChecklistItem, Department, Scene, SceneVersion
from . import audit


def list_scenes(session, *, active_only: bool = False):
    """Return every scene with its current version."""
    stmt = select(Scene).order_by(Scene.id)
    if active_only:
        stmt = stmt.where(Scene.active.is_(True))
    return list(session.scalars(stmt))


def get_scene(session, scene_id: int) -> Scene:
    """Return one scene or 404."""
    scene = session.get(Scene, scene_id)
    if scene is None:
        raise NotFound("scene")
    return scene


def get_version(session, scene_id: int, version: int) -> SceneVersion:
    """Return one version of a scene or 404."""
    row = session.scalar(select(SceneVersion).where(SceneVersion.scene_id == scene_id,
                                                    SceneVersion.version == version))
    if row is None:
        raise NotFound("scene version")
    return row


def _build_version(session, scene: Scene, number: int, values: dict, actor, now: datetime) -> SceneVersion:
    """Make a version row with its items, resolving department codes."""
    depts = {d.code: d for d in session.scalars(select(Department))}
    unknown = sorted(set(values["departments"]) - set(depts))
    if unknown:
        raise ValidationFailed({"departments": [f"No such department: {unknown}"]})
    version = SceneVersion(scene=scene, version=number, name=values["name"], category=values["category"],
                           cadence=values["cadence"], sample_kind=values["sample"]["kind"],
                           sample_value=values["sample"].get("value", 0), departments=list(values["departments"]),
                           created_at=now, created_by_id=getattr(actor, "id", None))
    version.items = [
        ChecklistItem(code=i["code"], position=n, department_id=depts[i["department"]].id, text=i["text"],
                      legal_basis=i["legal_basis"], severity=i["severity"],
                      photo_required_on_fail=i.get("photo_required_on_fail", True))
        for n, i in enumerate(values["items"], start=1)
    ]
    session.add(version)
    return version


def create_scene(session, actor, values: dict, *, now: datetime) -> Scene:
    """Add a scene with its first version."""
    if session.scalar(select(Scene.id).where(Scene.code == values["code"])) is not None:
        raise ApiError("conflict", "A scene with this code exists.", {"field": "code"})
    scene = Scene(code=values["code"], active=values.get("active", True), current_version=1)
    session.add(scene)
    _build_version(session, scene, 1, values, actor, now)
    session.flush()
    audit.record(session, actor, "scene.create", "scene", scene.id, {"code": scene.code, "version": 1}, now=now)
    return scene


def update_scene(session, actor, scene_id: int, values: dict, *, now: datetime) -> Scene:
    """Publish a new version of a scene; earlier versions stay as they were."""
    scene = get_scene(session, scene_id)
    number = scene.current_version + 1
    _build_version(session, scene, number, values, actor, now)
    scene.current_version = number
    scene.active = values.get("active", scene.active)
    session.flush()
    session.expire(scene, ["versions"])
    audit.record(session, actor, "scene.version", "scene", scene.id, {"version": number}, now=now)
    return scene
