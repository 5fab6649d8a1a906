"""Write the generated Liandu demo into an empty database (demo accounts exist only here)."""
from __future__ import annotations

from datetime import datetime, timedelta

from ..models import (Area, ChecklistItem, Department, Scene, SceneVersion, Squad, SquadArea, Target, User,
                      UserRole)
from ..rules import periods
from ..services import audit, rounds
from ..services.auth import hash_password
from . import activity
from .generate import build_demo

DEMO_PASSWORD = "liandu2023"  # printed by `make run`; never used outside the demo database

ROLE_NAMES = {"admin": "管理员 admin", "supervisor": "督查 supervisor", "leader": "中队长 squad leader",
              "inspector": "执法队员 inspector"}


def load(session, *, seed: int, targets: int, now: datetime, echo=print, secret: str = "demo", storage=None,
         config=None) -> dict:
    """Insert departments, areas, squads, users, scenes and targets, generate rounds; return counts.

    With an evidence ``storage`` (and the app's ``config``), two days of field work follow
    (demo/activity.py): records with photos, some reviewed, one kept aside.
    """
    data = build_demo(seed=seed, targets=targets)
    depts = {}
    for d in data["departments"]:
        depts[d["code"]] = Department(code=d["code"], name=d["name"], short=d["short"])
        session.add(depts[d["code"]])
    areas = {}
    for a in data["areas"]:
        areas[a["code"]] = Area(code=a["code"], name=a["name"], kind=a["kind"], mode=a["mode"], lat=a["lat"],
                                lon=a["lon"])
        session.add(areas[a["code"]])
    session.flush()
    squads = {}
    for s in data["squads"]:
        squads[s["code"]] = Squad(code=s["code"], name=s["name"])
        session.add(squads[s["code"]])
    session.flush()
    for s in data["squads"]:
        for code in s["area_codes"]:
            session.add(SquadArea(squad_id=squads[s["code"]].id, area_id=areas[code].id))
    shared_hash = hash_password(DEMO_PASSWORD)  # one hash for every demo account keeps loading quick
    for u in data["users"]:
        user = User(username=u["username"], full_name=u["full_name"], password_hash=shared_hash,
                    department_id=depts[u["department"]].id if u.get("department") else None,
                    squad_id=squads[u["squad"]].id if u.get("squad") else None,
                    certificate_no=u.get("certificate_no"), phone=u.get("phone"), active=True, created_at=now)
        user.role_rows = [UserRole(role=r) for r in u["roles"]]
        session.add(user)
    for s in data["scenes"]:
        scene = Scene(code=s["code"], active=True, current_version=1)
        version = SceneVersion(scene=scene, version=1, name=s["name"], category=s["category"], cadence=s["cadence"],
                               sample_kind=s["sample"]["kind"], sample_value=s["sample"]["value"],
                               departments=list(s["departments"]), created_at=now)
        version.items = [ChecklistItem(code=i["code"], position=n, department_id=depts[i["department"]].id,
                                       text=i["text"], legal_basis=i["legal_basis"], severity=i["severity"],
                                       photo_required_on_fail=i["photo_required_on_fail"])
                         for n, i in enumerate(s["items"], start=1)]
        session.add_all([scene, version])
    session.add_all(Target(name=t["name"], credit_code=t["credit_code"], category=t["category"],
                           area_id=areas[t["area"]].id, address=t["address"], lat=t["lat"], lon=t["lon"],
                           risk=t["risk"], contact_name=t.get("contact_name"), contact_phone=t.get("contact_phone"),
                           active=t["active"], created_at=now, updated_at=now)
                    for t in data["targets"])
    session.flush()
    summary = {"departments": len(depts), "areas": len(areas), "squads": len(squads), "users": len(data["users"]),
               "scenes": len(data["scenes"]), "targets": len(data["targets"])}
    audit.record(session, None, "demo.load", "database", "demo", {"seed": seed, **summary}, now=now)
    # The scheduler's work for the current period of every cadence, so the demo opens with rounds,
    # generated two days ago (or when this month began) so that the teams have had time to work.
    work_start = max(periods.period_bounds(periods.month_key_of(now))[0], now - timedelta(days=2))
    report = rounds.generate_period(session, None, secret=secret, now=work_start)
    echo(f"rounds for {', '.join(report.period_keys)}: {report.summary()}")
    summary["rounds"] = report.created
    summary["visits"] = report.visits
    if storage is not None:
        done = activity.simulate(session, storage=storage, config=config, now=now, work_start=work_start, seed=seed)
        summary.update(done)
    return summary


def print_logins(echo=print) -> None:
    """Print one demo login of each role, and where the rest are."""
    data = build_demo()
    echo("")
    echo(f"Demo logins (password for every demo account: {DEMO_PASSWORD}):")
    shown = set()
    for u in data["users"]:
        role = "inspector" if u["roles"] == ["inspector"] else u["roles"][0]
        if role in shown:
            continue
        shown.add(role)
        squad = f", {u['squad']}" if u.get("squad") else ""
        echo(f"  {ROLE_NAMES[role]:<24} {u['username']:<20} {u['full_name']}{squad}")
    echo("  (all users: GET /api/v1/users once signed in)")
    echo("Open http://127.0.0.1:5000/ — API document: http://127.0.0.1:5000/api/docs")
