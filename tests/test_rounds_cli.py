"""`flask rounds generate` and `flask rounds explain`: progress, one line per round, a summary, MISMATCH."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from lianduinspect.models import Round, Visit

from .factories import make_round
from .services.test_rounds import build_registry, inspect, served


@pytest.fixture
def registry(app, session):
    r = build_registry(session)
    session.commit()
    return r


def _generated(session) -> list[Round]:
    session.rollback()
    return list(session.scalars(select(Round).where(Round.kind == "scheduled").order_by(Round.id)))


def test_generate_prints_progress_each_round_and_a_one_line_summary(runner, registry, session):
    result = runner.invoke(args=["rounds", "generate", "--period", "2023-05"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert "generating" in result.output
    assert any(line.startswith("created ") and registry.scene.versions[0].name in line for line in lines)
    assert lines[-1] == "2023-05: 1 rounds created, 0 skipped (exist), 10 visits (0 joint)"
    assert len(_generated(session)) == 1


def test_generate_again_skips_the_rounds_that_exist(runner, registry, session):
    runner.invoke(args=["rounds", "generate", "--period", "2023-05"])
    result = runner.invoke(args=["rounds", "generate", "--period", "2023-05"])
    assert result.exit_code == 0, result.output
    assert "skipped " in result.output
    assert result.output.strip().splitlines()[-1] == "2023-05: 0 rounds created, 1 skipped (exist), 0 visits (0 joint)"
    assert len(_generated(session)) == 1


def test_dry_run_prints_the_plan_and_writes_nothing(runner, registry, session):
    result = runner.invoke(args=["rounds", "generate", "--period", "2023-05", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "1 rounds to create (dry run)" in result.output and "planned " in result.output
    assert _generated(session) == []


def test_generate_refuses_a_malformed_period(runner, registry):
    result = runner.invoke(args=["rounds", "generate", "--period", "2023-Q5"])
    assert result.exit_code != 0
    assert "period" in result.output


def test_explain_recomputes_the_draw_and_says_why_each_pick(runner, registry, session):
    runner.invoke(args=["rounds", "generate", "--period", "2023-05"])
    (rnd,) = _generated(session)
    result = runner.invoke(args=["rounds", "explain", str(rnd.id)])
    assert result.exit_code == 0, result.output
    assert "MISMATCH" not in result.output
    assert f"OK: round {rnd.id} recomputes byte for byte" in result.output
    assert "— identical" in result.output
    assert all(f"target {t.id}:" in result.output for t in registry.targets)
    assert "passed over — no enforcement certificate" in result.output  # the uncertified helper


def test_generate_and_explain_say_where_rotation_was_relaxed(runner, registry, session):
    wang, li = registry.people["wang"], registry.people["li"]
    march = make_round(session, registry.scene, registry.squad, [wang, li], registry.targets[:1],
                       period_key="2023-03", status="completed")
    inspect(session, served(session, march)[0], [wang, li], datetime(2023, 3, 20, 2, tzinfo=timezone.utc))
    session.commit()
    result = runner.invoke(args=["rounds", "generate", "--period", "2023-05"])
    assert result.exit_code == 0, result.output
    assert f"(rotation relaxed for {li.full_name}: no alternative)" in result.output
    rnd = _generated(session)[-1]
    result = runner.invoke(args=["rounds", "explain", str(rnd.id)])
    assert result.exit_code == 0, result.output
    # li is the squad's only certified 市场监管 and went last time; wang had zhang to stand in.
    assert (f"rotation relaxed: {li.full_name} inspected {registry.targets[0].name} last time;"
            " no alternative in 市场监督管理") in result.output
    assert wang.full_name + " inspected" not in result.output


def test_explain_says_mismatch_and_fails_when_the_stored_draw_was_altered(runner, registry, session):
    runner.invoke(args=["rounds", "generate", "--period", "2023-05"])
    (rnd,) = _generated(session)
    altered = json.loads(json.dumps(rnd.draw))
    altered["candidates"] = altered["candidates"][1:]  # quietly drop a candidate
    rnd.draw = altered
    session.commit()
    result = runner.invoke(args=["rounds", "explain", str(rnd.id)])
    assert result.exit_code == 1
    assert "MISMATCH" in result.output


def test_explain_says_mismatch_when_a_visit_was_altered(runner, registry, session):
    runner.invoke(args=["rounds", "generate", "--period", "2023-05"])
    (rnd,) = _generated(session)
    visit = session.scalar(select(Visit).where(Visit.round_id == rnd.id).order_by(Visit.id))
    visit.exemption = "high_risk"
    session.commit()
    result = runner.invoke(args=["rounds", "explain", str(rnd.id)])
    assert result.exit_code == 1
    assert f"MISMATCH: visit {visit.id}: exemption 'high_risk'" in result.output


def test_explain_an_unknown_round(runner, registry):
    result = runner.invoke(args=["rounds", "explain", "999999"])
    assert result.exit_code != 0 and "No such round" in result.output
