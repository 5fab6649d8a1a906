"""Factories for the domain: make_<noun>(session, **overrides), and one small world of every role."""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import secrets
from datetime import datetime, timedelta, timezone

from lianduinspect.models import (Area, ChecklistItem, Department, Round, Scene, SceneVersion, Squad, SquadArea,
                                  Target, User, UserRole, Visit)
from lianduinspect.rules import creditcode
from lianduinspect.services.auth import hash_password

PASSWORD = "correct horse 莲都"
_HASH = None
_counter = itertools.count(1)


def password_hash() -> str:
    """Hash the shared test password once per run (argon2 is slow on purpose)."""
    global _HASH
    if _HASH is None:
        _HASH = hash_password(PASSWORD)
    return _HASH


def credit_code(n: int | None = None) -> str:
    """Return a valid Liandu credit code, distinct for each n."""
    n = next(_counter) if n is None else n
    org = "".join(creditcode.ALPHABET[(n // 31 ** k) % 31] for k in range(8, -1, -1))
    return creditcode.make("9", "1", creditcode.DIVISION_LIANDU, org)


def make_department(session, **kw) -> Department:
    n = next(_counter)
    dept = Department(**{"code": f"d{n}", "name": f"部门{n}", "short": f"部{n}", **kw})
    session.add(dept)
    session.flush()
    return dept


def make_area(session, **kw) -> Area:
    n = next(_counter)
    area = Area(**{"code": f"area{n}", "name": f"属地{n}", "kind": "街道", "mode": "赋权",
                   "lat": 28.45, "lon": 119.92, **kw})
    session.add(area)
    session.flush()
    return area


def make_squad(session, areas=(), **kw) -> Squad:
    n = next(_counter)
    squad = Squad(**{"code": f"squad{n}", "name": f"中队{n}", **kw})
    session.add(squad)
    session.flush()
    for area in areas:
        session.add(SquadArea(squad_id=squad.id, area_id=area.id))
    session.flush()
    return squad


def make_user(session, roles=("inspector",), **kw) -> User:
    n = next(_counter)
    values = {"username": f"user{n}", "full_name": f"队员{n}", "password_hash": password_hash(),
              "certificate_no": f"3311022{n:05d}" if {"inspector", "leader"} & set(roles) else None,
              "active": True, **kw}
    user = User(**values)
    user.role_rows = [UserRole(role=r) for r in roles]
    session.add(user)
    session.flush()
    return user


def make_scene(session, departments, category="restaurant", cadence="monthly", sample=("percent", 50),
               items_per_department=2, **kw) -> Scene:
    n = next(_counter)
    scene = Scene(code=kw.pop("code", f"scene{n}"), active=True, current_version=1)
    session.add(scene)
    version = SceneVersion(scene=scene, version=1, name=kw.pop("name", f"场景{n}"), category=category,
                           cadence=cadence, sample_kind=sample[0], sample_value=sample[1],
                           departments=[d.code for d in departments])
    position = itertools.count(1)
    version.items = [
        ChecklistItem(code=f"I{n}-{d.code}-{k}", position=next(position), department_id=d.id,
                      text=f"{d.name}检查项{k}", legal_basis="《中华人民共和国食品安全法》",
                      severity=("low", "medium", "high")[k % 3], photo_required_on_fail=True)
        for d in departments for k in range(items_per_department)
    ]
    session.add(version)
    session.flush()
    return scene


def make_target(session, area, category="restaurant", **kw) -> Target:
    n = next(_counter)
    values = {"name": f"测试餐馆{n}", "credit_code": credit_code(n), "category": category, "area_id": area.id,
              "address": f"丽水市莲都区测试路{n}号", "lat": 28.45, "lon": 119.92, "risk": "low", "active": True, **kw}
    target = Target(**values)
    session.add(target)
    session.flush()
    return target


def make_round(session, scene, squad, members=(), targets=(), *, period_key="2023-04", kind="scheduled",
               window_start=None, window_end=None, status="planned", **kw) -> Round:
    """A round of a scene for a squad with its team and one pending visit per target."""
    start = window_start or datetime(2023, 3, 31, 16, 0, tzinfo=timezone.utc)
    end = window_end or start + timedelta(days=30)
    version = scene.versions[scene.current_version - 1]
    rnd = Round(scene_id=scene.id, scene_version_id=version.id, squad_id=squad.id, period_key=period_key, kind=kind,
                status=status, window_start=start, window_end=end, created_at=start - timedelta(days=3), **kw)
    rnd.members = list(members)
    session.add(rnd)
    session.flush()
    for target in targets:
        make_visit(session, rnd, target)
    return rnd


def make_visit(session, rnd, target, **kw) -> Visit:
    """A pending visit of a target within a round (and serving that round)."""
    visit = Visit(**{"round_id": rnd.id, "target_id": target.id, "code": secrets.token_urlsafe(12),
                     "status": "pending", "planned_month": rnd.period_key[:7], **kw})
    visit.rounds = [rnd]
    session.add(visit)
    session.flush()
    return visit


@dataclass
class World:
    departments: list
    areas: list
    squad: Squad
    other_squad: Squad
    admin: User
    supervisor: User
    leader: User
    inspector: User
    partner: User
    stranger: User
    scene: Scene
    targets: list
    other_targets: list
    round: Round
    other_round: Round


def make_world(session) -> World:
    """Build a small registry with one user of every role and two squads."""
    zhzf = make_department(session, code="zhzf", name="综合行政执法", short="综合执法")
    scjg = make_department(session, code="scjg", name="市场监督管理", short="市场监管")
    yjgl = make_department(session, code="yjgl", name="应急管理", short="应急")
    a1 = make_area(session, code="zijin", name="紫金街道")
    a2 = make_area(session, code="bihu", name="碧湖镇", kind="镇", lat=28.34, lon=119.80)
    squad = make_squad(session, [a1], code="chengdong", name="城东中队")
    other = make_squad(session, [a2], code="bihu", name="碧湖中队")
    admin = make_user(session, ("admin",), username="admin1", full_name="管理员")
    supervisor = make_user(session, ("supervisor",), username="dc_wang", full_name="王督查")
    leader = make_user(session, ("leader", "inspector"), username="zdz_ye", full_name="叶中队长",
                       squad_id=squad.id, department_id=zhzf.id)
    inspector = make_user(session, ("inspector",), username="zf_chen", full_name="陈执法",
                          squad_id=squad.id, department_id=zhzf.id)
    partner = make_user(session, ("inspector",), username="sj_zhou", full_name="周市监",
                        squad_id=squad.id, department_id=scjg.id)
    stranger = make_user(session, ("inspector",), username="zf_lan", full_name="蓝执法",
                         squad_id=other.id, department_id=zhzf.id)
    scene = make_scene(session, [zhzf, scjg, yjgl], code="canyin", name="餐饮服务场所")
    targets = [make_target(session, a1) for _ in range(6)]
    other_targets = [make_target(session, a2) for _ in range(4)]
    rnd = make_round(session, scene, squad, [inspector, partner], targets[:4])
    other_round = make_round(session, scene, other, [stranger], other_targets[:2])
    return World([zhzf, scjg, yjgl], [a1, a2], squad, other, admin, supervisor, leader, inspector, partner,
                 stranger, scene, targets, other_targets, rnd, other_round)
