"""Departments, areas and squads."""
from __future__ import annotations

from ..auth import current_user, now
from ..db import db, transaction
from ..schemas.reference import AreaSchema, DepartmentSchema, SquadDetailSchema, SquadSchema
from ..services import reference
from . import bp, doc, json_body


@bp.get("/departments")
@doc("The 1+7 departments", response=DepartmentSchema, many=True, tag="reference")
def departments_list():
    return {"items": DepartmentSchema(many=True).dump(reference.list_departments(db.session)), "next_cursor": None}


@bp.post("/departments")
@doc("Add a department", body=DepartmentSchema, response=DepartmentSchema, status=201, tag="reference")
def departments_create():
    values = json_body(DepartmentSchema())
    with transaction() as session:
        dept = reference.create_department(session, current_user(), values, now=now())
    return DepartmentSchema().dump(dept), 201


@bp.patch("/departments/<int:dept_id>")
@doc("Change a department", body=DepartmentSchema, response=DepartmentSchema, tag="reference")
def departments_update(dept_id):
    values = json_body(DepartmentSchema(), partial=True)
    with transaction() as session:
        dept = reference.update_department(session, current_user(), dept_id, values, now=now())
    return DepartmentSchema().dump(dept)


@bp.get("/areas")
@doc("Townships and streets (属地)", response=AreaSchema, many=True, tag="reference")
def areas_list():
    return {"items": AreaSchema(many=True).dump(reference.list_areas(db.session)), "next_cursor": None}


@bp.post("/areas")
@doc("Add an area", body=AreaSchema, response=AreaSchema, status=201, tag="reference")
def areas_create():
    values = json_body(AreaSchema())
    with transaction() as session:
        area = reference.create_area(session, current_user(), values, now=now())
    return AreaSchema().dump(area), 201


@bp.patch("/areas/<int:area_id>")
@doc("Change an area", body=AreaSchema, response=AreaSchema, tag="reference")
def areas_update(area_id):
    values = json_body(AreaSchema(), partial=True)
    with transaction() as session:
        area = reference.update_area(session, current_user(), area_id, values, now=now())
    return AreaSchema().dump(area)


@bp.get("/squads")
@doc("Squads with their areas", response=SquadSchema, many=True, tag="reference")
def squads_list():
    return {"items": SquadSchema(many=True).dump(reference.list_squads(db.session)), "next_cursor": None}


@bp.get("/squads/<int:squad_id>")
@doc("A squad with its areas and members", response=SquadDetailSchema, tag="reference")
def squads_get(squad_id):
    return SquadDetailSchema().dump(reference.get_squad(db.session, squad_id))


@bp.post("/squads")
@doc("Add a squad", body=SquadSchema, response=SquadSchema, status=201, tag="reference")
def squads_create():
    values = json_body(SquadSchema())
    with transaction() as session:
        squad = reference.create_squad(session, current_user(), values, now=now())
    return SquadSchema().dump(squad), 201


@bp.patch("/squads/<int:squad_id>")
@doc("Rename a squad or change its areas", body=SquadSchema, response=SquadSchema, tag="reference")
def squads_update(squad_id):
    values = json_body(SquadSchema(), partial=True)
    with transaction() as session:
        squad = reference.update_squad(session, current_user(), squad_id, values, now=now())
    return SquadSchema().dump(squad)
