"""Time generating one period's rounds against the floor of reading the targets and inserting the result.

Run ``make bench``, or ``.venv/bin/python bench/round_generation.py [--targets N] [--scenes N] [--repeat R]``.

A registry of 51 scenes (the demo's 12 real ones and 39 variants of them: other cadences and
sampling rules, so several scenes share each category and joint visits occur), 20,000 targets from
``lianduinspect.demo.generate`` in Liandu's 15 areas, 10 squads and their inspectors goes into a
temporary SQLite database migrated with flask-migrate's ``upgrade``. One earlier period is generated
and most of its visits marked inspected, so the draw reads real history (days since the last
inspection, the last team, inspectors' loads). Then, on fresh copies of that database each time:

- generation: ``services.rounds.generate_period`` for the periods beginning on 1 January 2024 (every
  cadence's, so all 51 scenes), in one ``transaction()``, audit chain included;
- floor: the same eligible targets read with one Core SELECT, and the rounds, visits and visit-round
  links the generation produced inserted with Core ``executemany`` — nothing else (no draw, no team,
  no history, no stored draw JSON, no audit).

Each is the best of ``--repeat`` interleaved runs, since the machine may be busy with other work. The
time spent inside ``rules.draw.plan_period`` (the pure draw: weights, sha256 numbers, the canonical
candidate digest, joint visits) is reported separately. The goal is a ratio of at most 5; the script
prints whether it was met and exits 0 either way (a missed goal is a finding to read, not a crash).
"""
from __future__ import annotations

import argparse
import copy
import os
import secrets
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

GOAL_RATIO = 5.0
SECRET = "bench-secret"
HISTORY_AT = datetime(2023, 11, 30, 16, 0, tzinfo=timezone.utc)  # 1 December 2023 in Lishui
PERIOD_AT = datetime(2023, 12, 31, 16, 0, tzinfo=timezone.utc)  # 1 January 2024 in Lishui
CADENCES = ("monthly", "quarterly", "half_yearly", "yearly")


def _progress(label: str, done: int, total: int) -> None:
    """Draw a progress bar on stderr, every 1% and at the end."""
    if total <= 0 or (done % max(1, total // 100) and done != total):
        return
    filled = 30 * done // total
    end = "\n" if done == total else ""
    print(f"\r{label:>10} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}", end=end, file=sys.stderr,
          flush=True)


def _scenes(count: int, base: list[dict]) -> list[dict]:
    """Return the demo's scenes followed by variants of them, up to `count`."""
    scenes = copy.deepcopy(base)
    n = 0
    while len(scenes) < count:
        source = base[n % len(base)]
        n += 1
        variant = copy.deepcopy(source)
        variant["code"] = f"{source['code']}_v{n}"
        variant["name"] = f"{source['name']}（专项{n}）"
        variant["cadence"] = CADENCES[n % len(CADENCES)]
        variant["sample"] = ({"kind": "percent", "value": 5 + 5 * (n % 4)} if n % 3 else
                             {"kind": "fixed", "value": 4 + n % 9})
        for item in variant["items"]:
            item["code"] = f"{item['code']}-{n}"
        scenes.append(variant)
    return scenes


def build_registry(url: str, *, targets: int, scenes: int) -> dict:
    """Migrate an empty database and fill it with the registry; return counts."""
    from flask_migrate import upgrade

    from _db import bench_app
    from lianduinspect.db import db
    from lianduinspect.demo.generate import build_demo
    from lianduinspect.models import (Area, ChecklistItem, Department, Scene, SceneVersion, Squad, SquadArea, Target,
                                      User, UserRole)

    folder = os.path.dirname(url.removeprefix("sqlite:///"))
    app = bench_app(url, folder, secret=SECRET)
    print(f"building a registry of {targets:,} targets ...", file=sys.stderr, flush=True)
    data = build_demo(seed=2024, targets=targets)
    scene_data = _scenes(scenes, data["scenes"])
    now = datetime(2023, 11, 20, tzinfo=timezone.utc)
    with app.app_context():
        upgrade()
        with db.engine.begin() as conn:
            ins = lambda model, rows: conn.execute(sa.insert(model.__table__), rows) if rows else None  # noqa: E731
            ins(Department, [{"id": i, "code": d["code"], "name": d["name"], "short": d["short"]}
                             for i, d in enumerate(data["departments"], 1)])
            dept = {d["code"]: i for i, d in enumerate(data["departments"], 1)}
            ins(Area, [{"id": i, "code": a["code"], "name": a["name"], "kind": a["kind"], "mode": a["mode"],
                        "lat": a["lat"], "lon": a["lon"]} for i, a in enumerate(data["areas"], 1)])
            area = {a["code"]: i for i, a in enumerate(data["areas"], 1)}
            ins(Squad, [{"id": i, "code": s["code"], "name": s["name"]} for i, s in enumerate(data["squads"], 1)])
            squad = {s["code"]: i for i, s in enumerate(data["squads"], 1)}
            ins(SquadArea, [{"squad_id": squad[s["code"]], "area_id": area[c]} for s in data["squads"]
                            for c in s["area_codes"]])
            ins(User, [{"id": i, "username": u["username"], "full_name": u["full_name"], "password_hash": "x",
                        "department_id": dept.get(u.get("department")), "squad_id": squad.get(u.get("squad")),
                        "certificate_no": u.get("certificate_no"), "phone": u.get("phone"), "active": True,
                        "created_at": now} for i, u in enumerate(data["users"], 1)])
            ins(UserRole, [{"user_id": i, "role": r} for i, u in enumerate(data["users"], 1) for r in u["roles"]])
            ins(Scene, [{"id": i, "code": s["code"], "active": True, "current_version": 1}
                        for i, s in enumerate(scene_data, 1)])
            ins(SceneVersion, [{"id": i, "scene_id": i, "version": 1, "name": s["name"], "category": s["category"],
                                "cadence": s["cadence"], "sample_kind": s["sample"]["kind"],
                                "sample_value": s["sample"]["value"], "departments": list(s["departments"]),
                                "created_at": now} for i, s in enumerate(scene_data, 1)])
            ins(ChecklistItem, [{"scene_version_id": i, "code": it["code"], "position": n,
                                 "department_id": dept[it["department"]], "text": it["text"],
                                 "legal_basis": it["legal_basis"], "severity": it["severity"],
                                 "photo_required_on_fail": it["photo_required_on_fail"]}
                                for i, s in enumerate(scene_data, 1) for n, it in enumerate(s["items"], 1)])
            ins(Target, [{"name": t["name"], "credit_code": t["credit_code"], "category": t["category"],
                          "area_id": area[t["area"]], "address": t["address"], "lat": t["lat"], "lon": t["lon"],
                          "risk": t["risk"], "contact_name": t.get("contact_name"),
                          "contact_phone": t.get("contact_phone"), "active": t["active"], "created_at": now,
                          "updated_at": now} for t in data["targets"]])
        history = _history(app)
        db.session.remove()
        db.engine.dispose()
    return {"targets": len(data["targets"]), "scenes": len(scene_data), "squads": len(data["squads"]),
            "areas": len(data["areas"]), "users": len(data["users"]), **history}


def _history(app) -> dict:
    """Generate the previous period and mark about 60% of its visits inspected (history to read)."""
    from lianduinspect.db import transaction
    from lianduinspect.models import Visit
    from lianduinspect.services import rounds

    print("generating one period of history ...", file=sys.stderr, flush=True)
    with transaction() as session:
        report = rounds.generate_period(session, None, secret=SECRET, at=HISTORY_AT, now=HISTORY_AT)
        ids = list(session.scalars(sa.select(Visit.id).order_by(Visit.id)))
        done = [i for n, i in enumerate(ids) if n % 5 < 3]
        for n in range(0, len(done), 500):
            session.execute(sa.update(Visit).where(Visit.id.in_(done[n:n + 500]))
                            .values(status="inspected", updated_at=HISTORY_AT + timedelta(days=10 + n % 15)))
    return {"history_rounds": report.created, "history_visits": report.visits, "history_inspected": len(done)}


def run_generation(url: str) -> tuple[float, dict]:
    """Generate the period on a copy; return the wall time and what was written."""
    from _db import bench_app
    from lianduinspect.db import db, transaction
    from lianduinspect.models import Round, Visit, VisitRound
    from lianduinspect.rules import draw
    from lianduinspect.services import rounds

    plan_period, in_draw = draw.plan_period, []

    def timed_plan(requests):
        start = time.perf_counter()
        try:
            return plan_period(requests)
        finally:
            in_draw.append(time.perf_counter() - start)

    folder = os.path.dirname(url.removeprefix("sqlite:///"))
    app = bench_app(url, folder, secret=SECRET)
    with app.app_context():
        db.session.execute(sa.text("SELECT 1"))  # connect before the clock starts, as a running app is
        db.session.rollback()
        draw.plan_period = timed_plan
        try:
            start = time.perf_counter()
            with transaction() as session:
                report = rounds.generate_period(session, None, secret=SECRET, at=PERIOD_AT, now=PERIOD_AT,
                                                progress=lambda d, t: _progress("generate", d, t))
            elapsed = time.perf_counter() - start
        finally:
            draw.plan_period = plan_period
        period_keys = report.period_keys
        written_rounds = [dict(r._mapping) for r in db.session.execute(
            sa.select(Round.id, Round.scene_id, Round.scene_version_id, Round.squad_id, Round.period_key,
                      Round.kind, Round.status, Round.window_start, Round.window_end, Round.seed,
                      Round.algorithm_version, Round.candidates_digest)
            .where(Round.period_key.in_(period_keys)).order_by(Round.id))]
        ids = [r["id"] for r in written_rounds]
        written_visits = [dict(v._mapping) for v in db.session.execute(
            sa.select(Visit.id, Visit.round_id, Visit.target_id, Visit.status, Visit.planned_month,
                      Visit.exemption, Visit.overdue).where(Visit.round_id.in_(ids)).order_by(Visit.id))]
        links = [dict(v._mapping) for v in db.session.execute(
            sa.select(VisitRound.visit_id, VisitRound.round_id).where(VisitRound.round_id.in_(ids)))]
        db.session.remove()
        db.engine.dispose()
    categories = sorted({c for c in _categories(url)})
    return elapsed, {"report": report, "rounds": written_rounds, "visits": written_visits, "links": links,
                     "categories": categories, "draw": sum(in_draw)}


def _categories(url: str) -> list[str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [r[0] for r in conn.execute(sa.text("SELECT DISTINCT category FROM scene_versions"))]
    engine.dispose()
    return rows


def run_floor(url: str, written: dict) -> float:
    """Read the eligible targets and insert the same rounds, visits and links with Core; return the time."""
    from lianduinspect.models import Round, Target, Visit, VisitRound

    # lianduinspect.db, imported by now, opens every SQLite connection of this process alike (WAL,
    # synchronous=FULL, foreign keys), so the floor writes under the app's settings.
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    now = PERIOD_AT
    start = time.perf_counter()
    with engine.begin() as conn:
        eligible = conn.execute(sa.select(Target.id, Target.category, Target.area_id, Target.risk)
                                .where(Target.active.is_(True), Target.category.in_(written["categories"]))).all()
        conn.execute(sa.insert(Round.__table__), [{**r, "created_at": now} for r in written["rounds"]])
        conn.execute(sa.insert(Visit.__table__), [{**v, "code": secrets.token_urlsafe(12), "created_at": now,
                                                   "updated_at": now} for v in written["visits"]])
        conn.execute(sa.insert(VisitRound.__table__), written["links"])
    elapsed = time.perf_counter() - start
    engine.dispose()
    assert len(eligible) > 0
    return elapsed


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the medians, the ratio and a one-line summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=20_000)
    parser.add_argument("--scenes", type=int, default=51)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="rounds-bench-") as folder:
        template = os.path.join(folder, "template.sqlite3")
        counts = build_registry(f"sqlite:///{template}", targets=args.targets, scenes=args.scenes)
        print(f"registry: {counts['targets']:,} targets, {counts['scenes']} scenes, {counts['squads']} squads, "
              f"{counts['areas']} areas, {counts['users']} users; history: {counts['history_rounds']} rounds, "
              f"{counts['history_visits']:,} visits ({counts['history_inspected']:,} inspected)")
        t_gen, t_floor, t_draw = [], [], []
        written = None
        for i in range(args.repeat):
            copy_a = os.path.join(folder, f"gen{i}.sqlite3")
            copy_b = os.path.join(folder, f"floor{i}.sqlite3")
            shutil.copyfile(template, copy_a)
            shutil.copyfile(template, copy_b)
            elapsed, written = run_generation(f"sqlite:///{copy_a}")
            t_gen.append(elapsed)
            t_draw.append(written["draw"])
            t_floor.append(run_floor(f"sqlite:///{copy_b}", written))
            _progress("repeat", i + 1, args.repeat)
            for path in (copy_a, copy_b):
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(path + suffix):
                        os.remove(path + suffix)
    report = written["report"]
    gen, floor, in_draw = min(t_gen), min(t_floor), min(t_draw)
    ratio = gen / floor
    n_visits = len(written["visits"])
    print(f"periods:                {', '.join(report.period_keys)}")
    print(f"written:                {report.created} rounds, {n_visits:,} visits ({report.joint:,} joint), "
          f"{len(written['links']):,} visit-round links; {report.empty} scene × squad pairs with nothing eligible")
    print(f"generation (best of {args.repeat}):   {gen * 1e3:8.1f} ms  (runs: "
          f"{', '.join(f'{t * 1e3:.0f}' for t in t_gen)} ms)")
    print(f"  of which rules.draw:    {in_draw * 1e3:8.1f} ms  ({in_draw / floor:.2f}x the floor by itself)")
    print(f"  the rest (reads, teams, stored draw, writes, audit, commit): {(gen - in_draw) * 1e3:.1f} ms "
          f"({(gen - in_draw) / floor:.2f}x)")
    print(f"Core floor (best of {args.repeat}):   {floor * 1e3:8.1f} ms  (runs: "
          f"{', '.join(f'{t * 1e3:.0f}' for t in t_floor)} ms)")
    verdict = f"goal <= {GOAL_RATIO:g}x met" if ratio <= GOAL_RATIO else f"goal NOT met (goal <= {GOAL_RATIO:g}x)"
    print(f"round_generation: {report.created} rounds and {n_visits:,} visits for {counts['scenes']} scenes over "
          f"{counts['targets']:,} targets in {gen:.3f} s, {ratio:.2f}x the Core floor ({floor:.3f} s); "
          f"{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
