"""Scenes (综合查一次 scene checklists)."""
from __future__ import annotations

from ..auth import current_user, now
from ..db import db, transaction
from ..schemas.scenes import SceneCreateSchema, SceneSchema, SceneVersionInSchema, SceneVersionSchema
from ..services import scenes
from . import bp, doc, json_body


@bp.get("/scenes")
@doc("Scenes with their current checklist", response=SceneSchema, many=True, tag="scenes")
def scenes_list():
    return {"items": SceneSchema(many=True).dump(scenes.list_scenes(db.session)), "next_cursor": None}


@bp.get("/scenes/<int:scene_id>")
@doc("One scene with its current checklist", response=SceneSchema, tag="scenes")
def scenes_get(scene_id):
    return SceneSchema().dump(scenes.get_scene(db.session, scene_id))


@bp.get("/scenes/<int:scene_id>/versions/<int:version>")
@doc("One pinned version of a scene", response=SceneVersionSchema, tag="scenes")
def scenes_version(scene_id, version):
    return SceneVersionSchema().dump(scenes.get_version(db.session, scene_id, version))


@bp.post("/scenes")
@doc("Create a scene", body=SceneCreateSchema, response=SceneSchema, status=201, tag="scenes")
def scenes_create():
    values = json_body(SceneCreateSchema())
    with transaction() as session:
        scene = scenes.create_scene(session, current_user(), values, now=now())
    return SceneSchema().dump(scene), 201


@bp.put("/scenes/<int:scene_id>")
@doc("Publish a new version of a scene", body=SceneVersionInSchema, response=SceneSchema, tag="scenes")
def scenes_update(scene_id):
    values = json_body(SceneVersionInSchema())
    with transaction() as session:
        scene = scenes.update_scene(session, current_user(), scene_id, values, now=now())
    return SceneSchema().dump(scene)
