"""Rounds by rule and by chance (双随机、一公开, 无事不扰): generation, teams, the sweep, explanation."""
from __future__ import annotations

import gc
import json
import os
import random
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, select, update

from lianduinspect.db import db, transaction
from lianduinspect.errors import ApiError
from lianduinspect.models import (AuditEvent, Inspection, InspectionInspector, InspectorConflict, Round, RoundMember,
                                  Target, Visit, VisitRound)
from lianduinspect.rules import draw
from lianduinspect.services import audit, rounds

from ..factories import make_area, make_department, make_round, make_scene, make_squad, make_target, make_user

SECRET = "test-secret"
MAY = "2023-05"


# ---------------------------------------------------------------------------------------------
# A small registry: one squad with four certified inspectors of three departments, another squad


@dataclass
class Registry:
    depts: dict
    areas: list
    squad: object
    other_squad: object
    people: dict  # name -> User of the squad
    strangers: list
    scene: object
    targets: list  # eligible: restaurants, active, in the squad's areas
    noise: dict = field(default_factory=dict)  # name -> target that must never be drawn


def build_registry(session, *, targets: int = 10, sample=("all", 0), cadence: str = "monthly",
                   risks=None) -> Registry:
    """Build a registry; targets get the given risks in turn (default low)."""
    depts = {code: make_department(session, code=code, name=name, short=name)
             for code, name in (("zhzf", "综合行政执法"), ("scjg", "市场监督管理"), ("yjgl", "应急管理"),
                                ("sthj", "生态环境"))}
    a1, a2, a3, a4 = make_area(session), make_area(session), make_area(session), make_area(session)
    squad = make_squad(session, [a1, a2])
    other = make_squad(session, [a3])
    people = {
        "zhang": make_user(session, ("leader", "inspector"), squad_id=squad.id, department_id=depts["zhzf"].id),
        "wang": make_user(session, squad_id=squad.id, department_id=depts["zhzf"].id),
        "li": make_user(session, squad_id=squad.id, department_id=depts["scjg"].id),
        "zhao": make_user(session, squad_id=squad.id, department_id=depts["yjgl"].id),
        "helper": make_user(session, squad_id=squad.id, department_id=depts["scjg"].id, certificate_no=None),
    }
    strangers = [make_user(session, squad_id=other.id, department_id=depts["zhzf"].id),
                 make_user(session, squad_id=other.id, department_id=depts["scjg"].id)]
    scene = make_scene(session, [depts["zhzf"], depts["scjg"], depts["yjgl"]], category="restaurant",
                       cadence=cadence, sample=sample)
    risks = risks or ["low"]
    eligible = [make_target(session, (a1, a2)[n % 2], risk=risks[n % len(risks)]) for n in range(targets)]
    noise = {
        "inactive": make_target(session, a1, active=False),
        "shop": make_target(session, a1, category="shop"),
        "elsewhere": make_target(session, a4),  # an area no squad covers
    }
    return Registry(depts, [a1, a2, a3, a4], squad, other, people, strangers, scene, eligible, noise)


def generate(period_key=MAY, *, now, at=None, dry_run=False, secret=SECRET):
    """Generate in a transaction of its own, as the job and the CLI do."""
    with transaction() as session:
        return rounds.generate_period(session, None, secret=secret, period_key=period_key, at=at,
                                      dry_run=dry_run, now=now)


def scheduled(session, scene=None) -> list[Round]:
    stmt = select(Round).where(Round.kind == "scheduled").order_by(Round.id)
    if scene is not None:
        stmt = stmt.where(Round.scene_id == scene.id)
    return list(session.scalars(stmt))


def served(session, rnd) -> list[Visit]:
    return list(session.scalars(select(Visit).join(VisitRound, VisitRound.visit_id == Visit.id)
                                .where(VisitRound.round_id == rnd.id).order_by(Visit.target_id)))


def team_of(session, rnd) -> list[int]:
    return sorted(session.scalars(select(RoundMember.user_id).where(RoundMember.round_id == rnd.id)))


def inspect(session, visit, inspectors, at):
    """Record that these inspectors inspected the visit at `at`."""
    visit.status, visit.updated_at = "inspected", at
    inspection = Inspection(uuid=str(uuid.uuid4()), visit_id=visit.id, revision=1, status="submitted",
                            submitted_by_id=inspectors[0].id, started_at=at - timedelta(minutes=40),
                            finished_at=at, outcome="pass", body_digest="0" * 64, received_at=at)
    session.add(inspection)
    session.flush()
    for user in inspectors:
        session.add(InspectionInspector(inspection_id=inspection.id, user_id=user.id))
    session.flush()


@pytest.fixture
def reg(app, session) -> Registry:
    r = build_registry(session)
    session.commit()
    return r


# ---------------------------------------------------------------------------------------------
# Eligibility and sample rules


def test_generation_draws_only_active_targets_of_the_scene_category_in_the_squads_areas(reg, session, now):
    report = generate(now=now)
    assert report.created == 1 and report.visits == len(reg.targets)
    (rnd,) = scheduled(session)
    assert rnd.squad_id == reg.squad.id and rnd.period_key == MAY and rnd.kind == "scheduled"
    assert {v.target_id for v in served(session, rnd)} == {t.id for t in reg.targets}
    assert not {t.id for t in reg.noise.values()} & {v.target_id for v in served(session, rnd)}


def test_squad_without_eligible_targets_gets_no_round(reg, session, now):
    report = generate(now=now)
    assert report.empty == 1  # the other squad has no restaurant
    assert [r.squad_id for r in scheduled(session)] == [reg.squad.id]


@pytest.mark.parametrize(("sample", "drawn"), [(("fixed", 3), 3), (("percent", 25), 3), (("all", 0), 10)])
def test_generation_takes_the_scenes_sample_rule(app, session, now, sample, drawn):
    build_registry(session, targets=10, sample=sample)
    session.commit()
    generate(now=now)
    (rnd,) = scheduled(session)
    assert len(served(session, rnd)) == drawn
    assert rnd.draw["rule"] == {"kind": sample[0], "value": sample[1]}


def test_round_window_is_the_period_and_visits_are_pending_with_unguessable_codes(reg, session, now):
    generate(now=now)
    (rnd,) = scheduled(session)
    assert rnd.window_start == datetime(2023, 4, 30, 16, tzinfo=timezone.utc)
    assert rnd.window_end == datetime(2023, 5, 31, 16, tzinfo=timezone.utc)
    visits = served(session, rnd)
    assert all(v.status == "pending" and v.planned_month == MAY and len(v.code) == 16 for v in visits)
    assert len({v.code for v in visits}) == len(visits)
    assert rnd.seed == rounds.round_seed(SECRET, reg.scene.id, reg.squad.id, MAY)
    assert rnd.algorithm_version == draw.ALGORITHM_VERSION and len(rnd.candidates_digest) == 64


def test_generation_is_audited(reg, session, now):
    generate(now=now)
    (rnd,) = scheduled(session)
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "round.generate"))
    assert event.subject_id == str(rnd.id) and event.actor_id is None
    assert event.data["seed"] == rnd.seed and event.data["candidates_digest"] == rnd.candidates_digest


def test_generating_twice_skips_the_existing_round(reg, session, now):
    first = generate(now=now)
    second = generate(now=now + timedelta(hours=3))
    assert (first.created, first.skipped) == (1, 0)
    assert (second.created, second.skipped, second.visits) == (0, 1, 0)
    assert len(scheduled(session)) == 1
    assert session.scalar(select(db.func.count(Visit.id))) == len(reg.targets)


def test_bad_period_key_is_a_validation_error(reg, now):
    with pytest.raises(ApiError) as err:
        generate("2023-13", now=now)
    assert err.value.code == "validation" and "period" in err.value.details


def test_generation_leaves_the_garbage_collector_as_it_found_it(reg, session, now):
    assert gc.isenabled()
    generate(now=now, dry_run=True)
    assert gc.isenabled()
    gc.disable()
    try:
        with rounds._collector_paused():
            generate(now=now, dry_run=True)  # nested, as two generations in one process are
            assert not gc.isenabled()
        assert not gc.isenabled()  # never turned on a collector that was off
    finally:
        gc.enable()


def test_dry_run_writes_nothing(reg, session, now):
    report = generate(now=now, dry_run=True)
    assert report.created == 1 and report.visits == len(reg.targets)
    assert scheduled(session) == [] and session.scalar(select(db.func.count(AuditEvent.seq))) == 0


# ---------------------------------------------------------------------------------------------
# 无事不扰: the monthly cap, its exemptions, and joint visits


def test_target_planned_this_month_elsewhere_is_capped_unless_high_risk(app, session, now):
    r = build_registry(session, targets=4, risks=["low", "high"])
    other_scene = make_scene(session, [r.depts["zhzf"]], category="restaurant", cadence="quarterly")
    low, high = r.targets[0], r.targets[1]
    make_round(session, other_scene, r.squad, [r.people["wang"], r.people["li"]], [low, high], period_key=MAY,
               kind="campaign")
    session.commit()
    generate(now=now)
    (rnd,) = scheduled(session, r.scene)
    visits = {v.target_id: v for v in served(session, rnd)}
    assert low.id not in visits  # 无事不扰: already visited this month, low risk
    assert visits[high.id].exemption == "high_risk"
    assert {visits[t.id].exemption for t in r.targets[2:]} == {None}
    assert "monthly cap" in " ".join(rounds.explain_round(session, rnd.id).lines)


def test_two_scenes_wanting_the_same_targets_in_one_month_share_joint_visits(reg, session, now):
    fire = make_scene(session, [reg.depts["zhzf"], reg.depts["yjgl"]], category="restaurant", cadence="monthly",
                      sample=("all", 0), name="消防安全")
    session.commit()
    report = generate(now=now)
    assert (report.created, report.visits, report.joint) == (2, len(reg.targets), len(reg.targets))
    food, fire_round = scheduled(session)
    assert [v.id for v in served(session, food)] == [v.id for v in served(session, fire_round)]
    for visit in served(session, food):
        assert visit.round_id == food.id  # the first round of the plan creates it, the second joins
        assert sorted(r.id for r in visit.rounds) == [food.id, fire_round.id]
    assert fire_round.draw["targets"]["joined"] and not fire_round.draw["targets"]["created"]
    # One visit per target this month: the cap was never exceeded.
    assert session.scalar(select(db.func.count(Visit.id))) == len(reg.targets)
    assert fire.id == fire_round.scene_id


def test_quarterly_and_monthly_rounds_generated_together_share_joint_visits(reg, session, now):
    make_scene(session, [reg.depts["scjg"]], category="restaurant", cadence="quarterly", sample=("all", 0))
    session.commit()
    report = generate(None, now=now, at=datetime(2023, 6, 30, 16, 30, tzinfo=timezone.utc))
    assert {r.period_key for r in report.rounds} == {"2023-07", "2023-Q3"}
    assert report.joint == len(reg.targets)
    assert {r.month_key for r in report.rounds} == {"2023-07"}


def test_generation_at_month_end_utc_plans_the_bureaus_next_month_whatever_the_server_zone(reg, session,
                                                                                            monkeypatch):
    make_scene(session, [reg.depts["scjg"]], category="restaurant", cadence="quarterly", sample=("all", 0))
    session.commit()
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        at = datetime(2023, 3, 31, 16, 30, tzinfo=timezone.utc)  # 00:30 on 1 April in Lishui
        report = generate(None, now=at)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert report.period_keys == ["2023-04", "2023-Q2", "2023-H1", "2023"]
    monthly, quarterly = scheduled(session)
    assert (monthly.period_key, quarterly.period_key) == ("2023-04", "2023-Q2")
    assert monthly.window_start == quarterly.window_start == datetime(2023, 3, 31, 16, tzinfo=timezone.utc)
    assert {v.planned_month for v in served(session, monthly)} == {"2023-04"}


def test_days_since_last_inspection_count_only_this_scenes_rounds(reg, session, now):
    t0, t1 = reg.targets[0], reg.targets[1]
    march = make_round(session, reg.scene, reg.squad, [reg.people["wang"], reg.people["li"]], [t0],
                       period_key="2023-03", status="completed")
    inspect(session, served(session, march)[0], [reg.people["wang"], reg.people["li"]],
            datetime(2023, 3, 11, 2, tzinfo=timezone.utc))
    other_scene = make_scene(session, [reg.depts["scjg"]], category="bakery")
    elsewhere = make_round(session, other_scene, reg.squad, [reg.people["zhang"], reg.people["li"]], [t1],
                           period_key="2023-03", status="completed")
    inspect(session, served(session, elsewhere)[0], [reg.people["zhang"], reg.people["li"]],
            datetime(2023, 3, 11, 2, tzinfo=timezone.utc))
    session.commit()
    generate(now=now)
    rnd = scheduled(session, reg.scene)[-1]
    stored = {c.target_id: c for c in map(draw.parse_candidate, rnd.draw["candidates"])}
    assert stored[t0.id].days_since_last == 50  # 11 March to 1 May (Lishui midnight)
    assert stored[t1.id].days_since_last is None  # inspected, but in another scene: never in this one


# ---------------------------------------------------------------------------------------------
# Teams


def test_team_is_one_certified_inspector_per_participating_department(reg, session, now):
    generate(now=now)
    (rnd,) = scheduled(session)
    team = team_of(session, rnd)
    people = reg.people
    assert len(team) == 3 and people["li"].id in team and people["zhao"].id in team
    assert len({people["zhang"].id, people["wang"].id} & set(team)) == 1  # one from 综合执法
    assert people["helper"].id not in team  # no enforcement certificate


def test_rotation_is_relaxed_only_when_no_alternative_exists(reg, session, now):
    wang, li = reg.people["wang"], reg.people["li"]
    march = make_round(session, reg.scene, reg.squad, [wang, li], reg.targets[:1], period_key="2023-03",
                       status="completed")
    inspect(session, served(session, march)[0], [wang, li], datetime(2023, 3, 20, 2, tzinfo=timezone.utc))
    session.commit()
    generate(now=now)
    rnd = scheduled(session)[-1]
    team = team_of(session, rnd)
    # 综合执法 has zhang, who did not go last time; li is the squad's only certified 市场监管.
    assert wang.id not in team and reg.people["zhang"].id in team
    assert li.id in team and reg.people["zhao"].id in team
    assert rnd.draw["team"]["uncovered"] == []
    assert rnd.draw["team"]["rotation_relaxed"] == [
        {"user_id": li.id, "department": "scjg", "target_ids": [reg.targets[0].id], "no_alternative_in": "scjg"}]
    explanation = rounds.explain_round(session, rnd.id)
    assert explanation.ok, explanation.mismatches
    assert (f"rotation relaxed: {li.full_name} inspected {reg.targets[0].name} last time;"
            f" no alternative in 市场监督管理") in explanation.lines
    assert any(f"inspector {wang.id} " in line and "passed over — 回避: inspected target" in line
               for line in explanation.lines)


def test_large_round_with_full_history_still_gets_a_team(reg, session, now):
    people = reg.people
    march = make_round(session, reg.scene, reg.squad, [people["zhang"], people["li"]], reg.targets,
                       period_key="2023-03", status="completed")
    visits = served(session, march)
    at = datetime(2023, 3, 20, 2, tzinfo=timezone.utc)
    for n, visit in enumerate(visits):
        # Every certified inspector of the squad went to some of these targets last time.
        pair = [people["zhang"], people["li"]] if n % 2 else [people["wang"], people["zhao"]]
        inspect(session, visit, pair, at)
    session.commit()
    report = generate(now=now)
    rnd = scheduled(session)[-1]
    team = team_of(session, rnd)
    assert report.without_team == 0 and len(team) == 3 and people["helper"].id not in team
    assert rnd.draw["team"]["uncovered"] == [] and rnd.draw["team"]["unavailable"] is None
    relaxed = {c["user_id"]: c for c in rnd.draw["team"]["rotation_relaxed"]}
    assert set(relaxed) == set(team)
    assert sum(len(c["target_ids"]) for c in relaxed.values()) == 3 * len(reg.targets) // 2
    explanation = rounds.explain_round(session, rnd.id)
    assert explanation.ok, explanation.mismatches
    assert sum(line.startswith("rotation relaxed: ") for line in explanation.lines) == 3


def test_team_passes_over_an_inspector_with_a_declared_conflict(reg, session, now):
    session.add(InspectorConflict(user_id=reg.people["zhao"].id, target_id=reg.targets[3].id, reason="亲属经营"))
    session.commit()
    generate(now=now)
    (rnd,) = scheduled(session)
    assert reg.people["zhao"].id not in team_of(session, rnd)
    assert "yjgl" in rnd.draw["team"]["uncovered"]


def test_team_prefers_the_least_loaded_inspector(reg, session, now):
    zhang, wang = reg.people["zhang"], reg.people["wang"]
    busy = make_round(session, reg.scene, reg.squad, [zhang, reg.people["zhao"]], reg.targets[:3],
                      period_key="2023-04", kind="campaign")
    assert busy.status == "planned"
    session.commit()
    generate(now=now)
    rnd = scheduled(session)[-1]
    team = team_of(session, rnd)
    assert wang.id in team and zhang.id not in team
    loads = {row[0]: row[3] for row in rnd.draw["team"]["inspectors"]}
    assert loads[zhang.id] == 3 and loads[wang.id] == 0


def test_squad_without_two_eligible_inspectors_gets_a_round_without_a_team(reg, session, now):
    for name in ("wang", "li", "zhao"):
        reg.people[name].active = False
    session.commit()
    report = generate(now=now)
    (rnd,) = scheduled(session)
    assert team_of(session, rnd) == [] and rnd.draw["team"]["unavailable"]["needed"] == 2
    assert report.without_team == 1 and "without a team" in report.summary()
    assert rounds.explain_round(session, rnd.id).ok


def test_each_generated_round_of_a_run_counts_the_previous_teams_load(reg, session, now):
    make_scene(session, [reg.depts["zhzf"]], category="restaurant", sample=("all", 0))
    session.commit()
    generate(now=now)
    first, second = scheduled(session)
    zhzf = {reg.people["zhang"].id, reg.people["wang"].id}
    assert (set(team_of(session, first)) & zhzf) != (set(team_of(session, second)) & zhzf)


# ---------------------------------------------------------------------------------------------
# Reproducible and explainable (公开)


def _fingerprint(session, rnd) -> tuple:
    visits = [(v.target_id, v.planned_month, v.exemption, v.status) for v in served(session, rnd)]
    return (rnd.seed, rnd.candidates_digest, json.dumps(rnd.draw, sort_keys=True, ensure_ascii=False),
            visits, team_of(session, rnd))


def test_same_inputs_and_seed_give_the_same_round_byte_for_byte(reg, session, now):
    generate(now=now)
    (rnd,) = scheduled(session)
    before = _fingerprint(session, rnd)
    # Remove the round as if it had never been, then generate again: the same round comes back.
    visit_ids = [v.id for v in served(session, rnd)]
    session.execute(delete(VisitRound).where(VisitRound.round_id == rnd.id))
    session.execute(delete(Visit).where(Visit.id.in_(visit_ids)))
    session.execute(delete(RoundMember).where(RoundMember.round_id == rnd.id))
    session.execute(delete(Round).where(Round.id == rnd.id))
    session.commit()
    generate(now=now + timedelta(days=2))
    (again,) = scheduled(session)
    assert _fingerprint(session, again) == before


def test_dry_run_plans_exactly_what_the_real_run_writes(reg, session, now):
    make_scene(session, [reg.depts["scjg"]], category="restaurant", sample=("percent", 50))
    session.commit()
    planned = generate(now=now, dry_run=True)
    written = generate(now=now)
    key = lambda r: (r.scene_id, r.squad_id, r.drawn, r.new_visits, r.joined, r.team)  # noqa: E731
    assert [key(r) for r in planned.rounds] == [key(r) for r in written.rounds]
    assert (planned.visits, planned.joint) == (written.visits, written.joint)


def test_the_seed_is_the_servers_hmac_of_the_rounds_name(reg, session, now):
    generate(now=now, secret="one")
    (rnd,) = scheduled(session)
    assert rnd.seed == rounds.round_seed("one", rnd.scene_id, rnd.squad_id, MAY)
    assert rnd.seed != rounds.round_seed("two", rnd.scene_id, rnd.squad_id, MAY)
    assert rnd.seed != rounds.round_seed("one", rnd.scene_id, rnd.squad_id, "2023-06")


def test_explain_recomputes_a_generated_round_and_says_why(reg, session, now):
    generate(now=now)
    (rnd,) = scheduled(session)
    explanation = rounds.explain_round(session, rnd.id)
    assert explanation.ok, explanation.mismatches
    text = "\n".join(explanation.lines)
    assert "identical" in text and draw.WEIGHT_FORMULA in text
    assert all(f"target {t.id}:" in text for t in reg.targets)
    assert all(f"inspector {u.id} " in text for u in reg.people.values())


def test_explain_detects_an_altered_stored_draw(reg, session, now):
    generate(now=now)
    (rnd,) = scheduled(session)
    altered = json.loads(json.dumps(rnd.draw))
    first = draw.parse_candidate(altered["candidates"][0])
    altered["candidates"][0] = replace(first, risk="high").canonical_line  # pretend it was high risk
    rnd.draw = altered
    session.commit()
    explanation = rounds.explain_round(session, rnd.id)
    assert not explanation.ok
    assert any("candidate list" in m for m in explanation.mismatches)


def test_explain_detects_an_altered_pick(reg, session, now):
    generate(now=now)
    (rnd,) = scheduled(session)
    altered = json.loads(json.dumps(rnd.draw))
    altered["targets"]["picks"] = altered["targets"]["picks"][1:]
    rnd.draw = altered
    session.commit()
    assert any("picks" in m for m in rounds.explain_round(session, rnd.id).mismatches)


def test_explain_detects_an_altered_visit(reg, session, now):
    generate(now=now)
    (rnd,) = scheduled(session)
    visit = served(session, rnd)[0]
    visit.target_id = reg.noise["elsewhere"].id
    session.commit()
    mismatches = rounds.explain_round(session, rnd.id).mismatches
    assert any("did not pick" in m for m in mismatches)
    assert any("without a visit" in m for m in mismatches)


def test_explain_detects_a_team_changed_without_an_audited_reason(reg, session, now):
    generate(now=now)
    (rnd,) = scheduled(session)
    session.execute(delete(RoundMember).where(RoundMember.round_id == rnd.id,
                                              RoundMember.user_id == team_of(session, rnd)[0]))
    session.commit()
    assert any("team on record" in m for m in rounds.explain_round(session, rnd.id).mismatches)


def test_explain_accepts_an_audited_team_change(reg, session, now):
    generate(now=now)
    (rnd,) = scheduled(session)
    leader = reg.people["zhang"]
    with transaction() as s:
        rounds.change_team(s, leader, rnd.id, {"user_ids": [reg.people["wang"].id, reg.people["zhao"].id],
                                               "reason": "李某病假"}, now=now)
    explanation = rounds.explain_round(session, rnd.id)
    assert explanation.ok, explanation.mismatches
    assert any("李某病假" in line for line in explanation.lines)


# ---------------------------------------------------------------------------------------------
# Racing generators


def _snapshot(session) -> dict:
    """Return the generated rounds and their visits, by (scene, squad, period), without ids or codes."""
    key_of = {r.id: (r.scene_id, r.squad_id, r.period_key) for r in scheduled(session)}
    snap = {}
    for rnd in scheduled(session):
        visits = sorted((v.target_id, v.planned_month, v.exemption, key_of.get(v.round_id),
                         tuple(sorted(key_of[x.id] for x in v.rounds))) for v in served(session, rnd))
        snap[key_of[rnd.id]] = (rnd.seed, json.dumps(rnd.draw, sort_keys=True, ensure_ascii=False), visits,
                                team_of(session, rnd))
    return snap


@pytest.mark.parametrize("queue", ["advisory lock", "unique index only"])
def test_two_generators_at_once_write_exactly_what_one_run_writes(app, session, now, monkeypatch, queue):
    r = build_registry(session, targets=24, sample=("percent", 50))
    make_scene(session, [r.depts["scjg"], r.depts["yjgl"]], category="restaurant", sample=("percent", 50))
    make_scene(session, [r.depts["zhzf"]], category="restaurant", cadence="monthly", sample=("fixed", 5))
    for _ in range(6):
        make_target(session, r.areas[2])  # the other squad's
    session.commit()
    # One run, rolled back: the reference.
    s = db.session()
    single = rounds.generate_period(s, None, secret=SECRET, period_key=MAY, now=now)
    s.flush()
    reference = _snapshot(s)
    s.rollback()
    audit.discard_pending(s)
    db.session.remove()
    assert single.created == 6 and single.joint > 0
    if queue == "unique index only":
        # Without the lock, both plan at once and the loser meets the unique index round by round.
        monkeypatch.setattr(rounds, "_queue_generators", lambda session: None)

    barrier = threading.Barrier(2)
    reports, errors = [], []

    def run():
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                reports.append(generate(now=now))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(r.created for r in reports) == [0, 6]
    assert sorted(r.skipped for r in reports) == [0, 6]
    assert _snapshot(session) == reference
    assert session.scalar(select(db.func.count(AuditEvent.seq)).where(AuditEvent.action == "round.generate")) == 6


def test_generation_skips_a_round_another_generator_wrote_and_joins_its_visits(reg, session, now, monkeypatch):
    make_scene(session, [reg.depts["zhzf"]], category="restaurant", sample=("all", 0))
    session.commit()
    s = db.session()
    rounds.generate_period(s, None, secret=SECRET, period_key=MAY, now=now)
    s.flush()
    reference = _snapshot(s)
    s.rollback()
    audit.discard_pending(s)
    # Another generator wrote the first round (and its visits) a moment ago ...
    with transaction() as s:
        report = rounds.generate_period(s, None, secret=SECRET, period_key=MAY, now=now)
        first = scheduled(s)[0]
        s.execute(delete(VisitRound).where(VisitRound.round_id != first.id))
        s.execute(delete(RoundMember).where(RoundMember.round_id != first.id))
        s.execute(delete(Round).where(Round.id != first.id))
        audit.discard_pending(s)
    assert report.created == 2
    # ... after this one had looked: it believes nothing exists and meets the unique index.
    monkeypatch.setattr(rounds, "select", _hide_existing_rounds(rounds.select))
    result = generate(now=now)
    assert (result.created, result.skipped) == (1, 1)
    assert _snapshot(session) == reference


def _hide_existing_rounds(real_select):
    """Make the generator read the period as it was before the other one wrote: no rounds, visits or loads."""
    hidden = set()

    def fake(*columns, **kw):
        stmt = real_select(*columns, **kw)
        looks_up = {"rounds": (columns[:1] == (Round.id,) and Round.period_key in columns, Round.id < 0),
                    "months": (columns == (Visit.target_id, Visit.planned_month), Visit.id < 0),
                    "loads": (columns[:1] == (RoundMember.user_id,) and len(columns) == 2, RoundMember.round_id < 0)}
        for what, (match, nothing) in looks_up.items():
            if match and what not in hidden:
                hidden.add(what)
                return stmt.where(nothing)
        return stmt

    return fake


# ---------------------------------------------------------------------------------------------
# Randomised: the rules hold for any registry


@pytest.mark.parametrize("run", range(3))
def test_generation_keeps_the_rules_for_random_registries(app, session, now, run):
    seed = int(os.environ.get("ROUNDS_TEST_SEED", random.randrange(1 << 30)))
    print(f"random registry seed {seed} (rerun with ROUNDS_TEST_SEED={seed})")
    rng = random.Random(seed)
    r = build_registry(session, targets=0)
    for _ in range(rng.randrange(5, 40)):
        make_target(session, rng.choice(r.areas[:2]), risk=rng.choice(("low", "medium", "high")),
                    active=rng.random() > 0.1)
    samples = [("all", 0), ("fixed", rng.randrange(1, 10)), ("percent", rng.randrange(1, 101))]
    for _ in range(rng.randrange(1, 4)):
        depts = rng.sample(list(r.depts.values()), rng.randrange(1, 4))
        make_scene(session, depts, category="restaurant", cadence=rng.choice(("monthly", "quarterly")),
                   sample=rng.choice(samples))
    # Another scene's campaign already visits some of them in May.
    busy = make_scene(session, [r.depts["zhzf"]], category="restaurant", cadence="yearly")
    active = list(session.scalars(select(Target).where(Target.category == "restaurant", Target.active.is_(True),
                                                       Target.area_id.in_([a.id for a in r.areas[:2]]))))
    if active:
        make_round(session, busy, r.squad, [r.people["wang"], r.people["li"]],
                   rng.sample(active, rng.randrange(0, len(active) + 1)), period_key=MAY, kind="campaign")
    session.commit()

    report = generate(None, now=now, at=datetime(2023, 4, 30, 16, tzinfo=timezone.utc))
    visits = list(session.scalars(select(Visit).where(Visit.planned_month == MAY)))
    per_target: dict[int, list[Visit]] = {}
    for visit in visits:
        per_target.setdefault(visit.target_id, []).append(visit)
    for target_id, theirs in per_target.items():
        # 无事不扰: a second visit in a month only with a recorded exemption.
        assert sum(1 for v in theirs if v.exemption is None) <= 1, (seed, target_id)
    for rnd in scheduled(session):
        explanation = rounds.explain_round(session, rnd.id)
        assert explanation.ok, (seed, rnd.id, explanation.mismatches)
        team = team_of(session, rnd)
        assert len(team) >= 2 or rnd.draw["team"] is None or rnd.draw["team"]["unavailable"], (seed, rnd.id)
        assert r.people["helper"].id not in team
    assert report.created == len(scheduled(session))


# ---------------------------------------------------------------------------------------------
# Ad-hoc rounds, team changes, cancelling, marking visits


def _window(now, days=10):
    return {"start": now, "end": now + timedelta(days=days)}


def test_complaint_round_is_exempt_from_the_monthly_cap(reg, session, now):
    make_round(session, reg.scene, reg.squad, [reg.people["wang"], reg.people["li"]], reg.targets[:1],
               period_key="2023-04", kind="campaign")
    session.commit()
    values = {"kind": "complaint", "scene_id": reg.scene.id, "squad_id": reg.squad.id, "title": "12345热线投诉",
              "window": _window(now), "target_ids": [reg.targets[0].id, reg.targets[1].id],
              "user_ids": [reg.people["zhang"].id, reg.people["zhao"].id]}
    with transaction() as s:
        rnd = rounds.create_round(s, reg.people["zhang"], values, now=now)
    exemptions = {v["target"]["id"]: v["exemption"] for v in rnd.visit_rows}
    assert exemptions == {reg.targets[0].id: "complaint", reg.targets[1].id: None}
    assert rnd.kind == "complaint" and rnd.period_key == "2023-04"
    assert rounds.explain_round(session, rnd.id).ok


def test_campaign_round_refuses_a_target_already_visited_this_month(reg, session, now):
    make_round(session, reg.scene, reg.squad, [reg.people["wang"], reg.people["li"]], reg.targets[:1],
               period_key="2023-04", kind="campaign")
    session.commit()
    values = {"kind": "campaign", "scene_id": reg.scene.id, "squad_id": reg.squad.id, "title": "专项整治",
              "window": _window(now), "target_ids": [reg.targets[0].id],
              "user_ids": [reg.people["zhang"].id, reg.people["zhao"].id]}
    with pytest.raises(ApiError) as err, transaction() as s:
        rounds.create_round(s, reg.people["zhang"], values, now=now)
    assert err.value.code == "validation" and "无事不扰" in err.value.details["target_ids"][0]


def test_hand_picked_team_needs_two_certified_squad_members(reg, session, now):
    values = {"kind": "campaign", "scene_id": reg.scene.id, "squad_id": reg.squad.id, "title": "专项整治",
              "window": _window(now), "target_ids": [reg.targets[0].id]}
    with pytest.raises(ApiError) as err, transaction() as s:
        rounds.create_round(s, reg.people["zhang"], {**values, "user_ids": [reg.people["li"].id,
                                                                             reg.people["helper"].id]}, now=now)
    assert err.value.code == "round.team_unavailable"
    assert err.value.details["found"] == [reg.people["li"].id]
    with pytest.raises(ApiError) as err, transaction() as s:
        rounds.create_round(s, reg.people["zhang"], {**values, "user_ids": [reg.people["li"].id,
                                                                             reg.strangers[0].id]}, now=now)
    assert err.value.code == "validation" and "not a member" in err.value.details["user_ids"][0]


def _inspected_in_march(reg, session, inspectors, targets):
    march = make_round(session, reg.scene, reg.squad, inspectors, targets, period_key="2023-03", status="completed")
    for visit in served(session, march):
        inspect(session, visit, inspectors, datetime(2023, 3, 20, 2, tzinfo=timezone.utc))
    session.commit()


def test_hand_picked_team_going_back_to_a_target_needs_the_leaders_reason(reg, session, now):
    wang, li = reg.people["wang"], reg.people["li"]
    _inspected_in_march(reg, session, [wang, li], reg.targets[:1])
    values = {"kind": "campaign", "scene_id": reg.scene.id, "squad_id": reg.squad.id, "title": "专项整治",
              "window": _window(now), "target_ids": [reg.targets[0].id, reg.targets[1].id],
              "user_ids": [wang.id, reg.people["zhao"].id]}
    with pytest.raises(ApiError) as err, transaction() as s:
        rounds.create_round(s, reg.people["zhang"], values, now=now)
    assert err.value.code == "round.rotation_clash"
    assert err.value.details == {"clashes": {str(wang.id): {
        "targets": [reg.targets[0].id],
        "reason": f"回避: inspected target {reg.targets[0].id} last time in this scene"}}}
    with transaction() as s:
        rnd = rounds.create_round(s, reg.people["zhang"], {**values, "team_reason": "王某熟悉该店整改情况"}, now=now)
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "round.create"))
    clash = [{"user_id": wang.id, "target_ids": [reg.targets[0].id]}]
    assert event.data["rotation_relaxed"] == clash and event.data["team_reason"] == "王某熟悉该店整改情况"
    explanation = rounds.explain_round(session, rnd.id)
    assert explanation.ok, explanation.mismatches
    assert (f"rotation relaxed: {wang.full_name} inspected {reg.targets[0].name} last time;"
            " the leader's reason: 王某熟悉该店整改情况") in explanation.lines


def test_hand_picked_team_never_includes_a_declared_conflict(reg, session, now):
    zhao = reg.people["zhao"]
    session.add(InspectorConflict(user_id=zhao.id, target_id=reg.targets[0].id, reason="亲属经营"))
    session.commit()
    values = {"kind": "campaign", "scene_id": reg.scene.id, "squad_id": reg.squad.id, "title": "专项整治",
              "window": _window(now), "target_ids": [reg.targets[0].id], "team_reason": "人手不足",
              "user_ids": [reg.people["wang"].id, zhao.id]}
    with pytest.raises(ApiError) as err, transaction() as s:
        rounds.create_round(s, reg.people["zhang"], values, now=now)
    assert err.value.code == "round.team_unavailable"
    conflict = f"回避: conflict of interest with target {reg.targets[0].id}"
    assert err.value.details["passed_over"] == {str(zhao.id): conflict}


def test_team_change_sending_an_inspector_back_records_the_clash(reg, session, now):
    wang, li = reg.people["wang"], reg.people["li"]
    _inspected_in_march(reg, session, [wang, li], reg.targets[:1])
    generate(now=now)
    rnd = scheduled(session)[-1]
    with transaction() as s:
        rounds.change_team(s, reg.people["zhang"], rnd.id, {"user_ids": [wang.id, li.id], "reason": "熟悉情况"},
                           now=now)
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "round.assign"))
    assert event.data["rotation_relaxed"] == [{"user_id": wang.id, "target_ids": [reg.targets[0].id]},
                                              {"user_id": li.id, "target_ids": [reg.targets[0].id]}]
    explanation = rounds.explain_round(session, rnd.id)
    assert explanation.ok, explanation.mismatches
    assert (f"rotation relaxed: {wang.full_name} inspected {reg.targets[0].name} last time;"
            " the leader's reason: 熟悉情况") in explanation.lines


def test_cancel_skips_pending_visits_but_keeps_joint_ones_other_rounds_need(reg, session, now):
    make_scene(session, [reg.depts["yjgl"]], category="restaurant", sample=("fixed", 3))
    session.commit()
    generate(now=now)
    food, fire = scheduled(session)
    shared = {v.id for v in served(session, fire)}
    with transaction() as s:
        rounds.cancel_round(s, reg.people["zhang"], food.id, {"reason": "防汛抢险，人员抽调"}, now=now)
    for visit in served(session, food):
        if visit.id in shared:
            assert visit.status == "pending"
        else:
            assert (visit.status, visit.skip_reason) == ("skipped", "防汛抢险，人员抽调")
    assert session.get(Round, food.id).status == "cancelled"
    with pytest.raises(ApiError) as err, transaction() as s:
        rounds.cancel_round(s, reg.people["zhang"], food.id, {"reason": "again"}, now=now)
    assert err.value.code == "round.closed"


def test_marking_the_last_pending_visit_completes_the_round(reg, session, now):
    rnd = make_round(session, reg.scene, reg.squad, [reg.people["wang"], reg.people["li"]], reg.targets[:2])
    visits = served(session, rnd)
    inspect(session, visits[0], [reg.people["wang"], reg.people["li"]], now)
    session.commit()
    with transaction() as s:
        view = rounds.mark_visit(s, reg.people["wang"], visits[1].id, {"status": "unreachable",
                                                                       "reason": "大门紧锁，电话无人接听"}, now=now)
    assert view["status"] == "unreachable" and view["reason"].startswith("大门")
    assert session.get(Round, rnd.id).status == "completed"
    actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))
    assert actions == ["visit.unreachable", "round.complete"]


# ---------------------------------------------------------------------------------------------
# The overdue sweep


def test_sweep_flags_rounds_past_their_window_overdue_with_their_pending_visits(reg, session, now):
    late = make_round(session, reg.scene, reg.squad, [reg.people["wang"], reg.people["li"]], reg.targets[:3],
                      window_start=now - timedelta(days=40), window_end=now - timedelta(hours=1))
    inspect(session, served(session, late)[0], [reg.people["wang"], reg.people["li"]], now - timedelta(days=2))
    current = make_round(session, reg.scene, reg.squad, [reg.people["wang"], reg.people["li"]], reg.targets[3:5],
                         period_key="2023-Q2", window_start=now - timedelta(days=5),
                         window_end=now + timedelta(days=20))
    done = make_round(session, reg.scene, reg.squad, [reg.people["wang"], reg.people["li"]], reg.targets[5:6],
                      period_key="2023-H1", window_start=now - timedelta(days=5), window_end=now + timedelta(days=20))
    inspect(session, served(session, done)[0], [reg.people["wang"], reg.people["li"]], now - timedelta(days=1))
    session.commit()
    with transaction() as s:
        result = rounds.sweep_overdue(s, None, now=now)
    assert result == {"overdue": 1, "completed": 1, "started": 0, "visits_flagged": 2}
    assert session.get(Round, late.id).status == "overdue"
    assert [(v.status, v.overdue) for v in served(session, late)] == [("inspected", False), ("pending", True),
                                                                      ("pending", True)]
    assert session.get(Round, current.id).status == "planned"
    assert not any(v.overdue for v in served(session, current))
    assert session.get(Round, done.id).status == "completed"


def test_sweep_is_idempotent(reg, session, now):
    make_round(session, reg.scene, reg.squad, [reg.people["wang"], reg.people["li"]], reg.targets[:3],
               window_start=now - timedelta(days=40), window_end=now - timedelta(hours=1))
    session.commit()
    with transaction() as s:
        rounds.sweep_overdue(s, None, now=now)
    events = session.scalar(select(db.func.count(AuditEvent.seq)))
    with transaction() as s:
        again = rounds.sweep_overdue(s, None, now=now + timedelta(hours=1))
    assert again == {"overdue": 0, "completed": 0, "started": 0, "visits_flagged": 0}
    assert session.scalar(select(db.func.count(AuditEvent.seq))) == events


def test_overdue_round_completes_once_its_last_visit_is_done(reg, session, now):
    late = make_round(session, reg.scene, reg.squad, [reg.people["wang"], reg.people["li"]], reg.targets[:1],
                      window_start=now - timedelta(days=40), window_end=now - timedelta(hours=1))
    session.commit()
    with transaction() as s:
        rounds.sweep_overdue(s, None, now=now)
    session.execute(update(Visit).values(status="inspected"))
    session.commit()
    with transaction() as s:
        assert rounds.sweep_overdue(s, None, now=now)["completed"] == 1
    assert session.get(Round, late.id).status == "completed"
