"""Departments, areas and squads: admins write, everyone signed in reads."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ..errors import ApiError, NotFound, ValidationFailed
from ..models import Area, Department, Squad, SquadArea
from . import audit


def _unique(session, model, field: str, value, exclude_id: int | None = None) -> None:
    """Refuse a duplicate value of a unique field with a clear 409 before the database does."""
    stmt = select(model.id).where(getattr(model, field) == value)
    if exclude_id is not None:
        stmt = stmt.where(model.id != exclude_id)
    if session.scalar(stmt) is not None:
        raise ApiError("conflict", f"{field} {value!r} is already used.", {"field": field})


def list_departments(session):
    """Return every department."""
    return list(session.scalars(select(Department).order_by(Department.id)))


def create_department(session, actor, values: dict, *, now: datetime) -> Department:
    """Add a department."""
    _unique(session, Department, "code", values["code"])
    _unique(session, Department, "name", values["name"])
    dept = Department(**values)
    session.add(dept)
    session.flush()
    audit.record(session, actor, "department.create", "department", dept.id, values, now=now)
    return dept


def update_department(session, actor, dept_id: int, values: dict, *, now: datetime) -> Department:
    """Change a department's names (its code is its identity in scenes)."""
    dept = session.get(Department, dept_id) or _missing("department")
    if "code" in values and values["code"] != dept.code:
        raise ValidationFailed({"code": ["A department's code cannot change."]})
    if "name" in values:
        _unique(session, Department, "name", values["name"], dept.id)
    for key, value in values.items():
        setattr(dept, key, value)
    audit.record(session, actor, "department.update", "department", dept.id, values, now=now)
    session.flush()
    return dept


def list_areas(session):
    """Return every area."""
    return list(session.scalars(select(Area).order_by(Area.id)))


def create_area(session, actor, values: dict, *, now: datetime) -> Area:
    """Add an area (township or street)."""
    _unique(session, Area, "code", values["code"])
    _unique(session, Area, "name", values["name"])
    area = Area(**values)
    session.add(area)
    session.flush()
    audit.record(session, actor, "area.create", "area", area.id, values, now=now)
    return area


def update_area(session, actor, area_id: int, values: dict, *, now: datetime) -> Area:
    """Change an area."""
    area = session.get(Area, area_id) or _missing("area")
    if "code" in values:
        _unique(session, Area, "code", values["code"], area.id)
    if "name" in values:
        _unique(session, Area, "name", values["name"], area.id)
    for key, value in values.items():
        setattr(area, key, value)
    audit.record(session, actor, "area.update", "area", area.id, values, now=now)
    session.flush()
    return area


def list_squads(session):
    """Return every squad with its areas."""
    return list(session.scalars(select(Squad).order_by(Squad.id)))


def get_squad(session, squad_id: int) -> Squad:
    """Return one squad or 404."""
    return session.get(Squad, squad_id) or _missing("squad")


def _set_squad_areas(session, squad: Squad, area_ids: list[int]) -> None:
    """Give a squad its areas; an area already covered by another squad is a conflict."""
    if len(set(area_ids)) != len(area_ids):
        raise ValidationFailed({"area_ids": ["An area is listed twice."]})
    found = set(session.scalars(select(Area.id).where(Area.id.in_(area_ids))))
    unknown = sorted(set(area_ids) - found)
    if unknown:
        raise ValidationFailed({"area_ids": [f"No such area: {unknown}"]})
    taken = session.scalars(select(SquadArea).where(SquadArea.area_id.in_(area_ids),
                                                    SquadArea.squad_id != (squad.id or -1))).all()
    if taken:
        raise ApiError("conflict", "An area is already covered by another squad.",
                       {"field": "area_ids", "area_ids": sorted(t.area_id for t in taken)})
    for link in session.scalars(select(SquadArea).where(SquadArea.squad_id == squad.id)):
        if link.area_id not in area_ids:
            session.delete(link)
    session.flush()
    have = set(session.scalars(select(SquadArea.area_id).where(SquadArea.squad_id == squad.id)))
    for area_id in area_ids:
        if area_id not in have:
            session.add(SquadArea(squad_id=squad.id, area_id=area_id))
    session.flush()
    session.expire(squad, ["areas"])


def create_squad(session, actor, values: dict, *, now: datetime) -> Squad:
    """Add a squad covering some areas."""
    _unique(session, Squad, "code", values["code"])
    _unique(session, Squad, "name", values["name"])
    squad = Squad(code=values["code"], name=values["name"])
    session.add(squad)
    session.flush()
    _set_squad_areas(session, squad, values["area_ids"])
    audit.record(session, actor, "squad.create", "squad", squad.id, values, now=now)
    return squad


def update_squad(session, actor, squad_id: int, values: dict, *, now: datetime) -> Squad:
    """Rename a squad or change its areas."""
    squad = get_squad(session, squad_id)
    if "code" in values:
        _unique(session, Squad, "code", values["code"], squad.id)
        squad.code = values["code"]
    if "name" in values:
        _unique(session, Squad, "name", values["name"], squad.id)
        squad.name = values["name"]
    if "area_ids" in values:
        _set_squad_areas(session, squad, values["area_ids"])
    audit.record(session, actor, "squad.update", "squad", squad.id, values, now=now)
    session.flush()
    return squad


def _missing(what: str):
    raise NotFound(what)
