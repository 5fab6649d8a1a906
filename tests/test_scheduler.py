"""Thin jobs, explicit scheduler: jobs are safe to run twice, and the scheduler starts only when asked."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func, select

from lianduinspect import create_app, jobs
from lianduinspect.models import AuditEvent, Round

from .factories import make_round
from .services.test_rounds import build_registry


@pytest.fixture
def registry(app, session):
    r = build_registry(session)
    session.commit()
    return r


@pytest.fixture
def no_jobs(monkeypatch):
    """An in-app scheduler with nothing to run, stopped afterwards."""
    monkeypatch.setattr(jobs, "JOBS", [])
    yield
    jobs.stop_in_app()


def _count(session, model_column, *where):
    session.rollback()
    return session.scalar(select(func.count(model_column)).where(*where))


def test_production_schedule_runs_every_job_of_the_rounds_and_the_rectification_loop():
    by_id = {job.id: job for job in jobs.JOBS}
    assert set(by_id) == {"rounds.generate", "rounds.sweep_overdue", "rectifications.plan_reinspections",
                          "rectifications.escalate_overdue", "rectifications.draw_lookback", "audit.checkpoint"}
    assert isinstance(by_id["rounds.generate"].trigger(), CronTrigger)
    sweep = by_id["rounds.sweep_overdue"].trigger()
    assert isinstance(sweep, IntervalTrigger) and sweep.interval == timedelta(hours=1)


def test_scheduler_never_starts_while_testing(tmp_path):
    app = create_app({"TESTING": True, "SCHEDULER_ENABLED": True, "SECRET_KEY": "t",
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", "STORAGE_URL": str(tmp_path)})
    assert "lianduinspect.scheduler" not in app.extensions
    assert jobs._started is None


def test_in_app_scheduler_starts_once_per_process(app, no_jobs):
    app.config["TESTING"] = False
    first = jobs.start_in_app(app)
    assert first is not None and first.running
    assert jobs.start_in_app(app) is first


def test_in_app_scheduler_waits_for_the_reloaders_serving_child(app, no_jobs, monkeypatch):
    app.config["TESTING"] = False
    app.debug = True
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    assert jobs.start_in_app(app) is None  # the watching parent
    monkeypatch.setenv("WERKZEUG_RUN_MAIN", "true")
    assert jobs.start_in_app(app).running  # the child that serves


def test_generate_job_is_safe_to_run_twice(app, registry, session):
    first = jobs.generate_rounds(app)
    second = jobs.generate_rounds(app)
    created = sum(r.created for r in first)
    assert created >= 1 and sum(r.created for r in second) == 0
    assert sum(r.skipped for r in second) == created
    assert _count(session, Round.id) == created
    assert _count(session, AuditEvent.seq, AuditEvent.action == "round.generate") == created


def test_sweep_job_is_safe_to_run_twice(app, registry, session):
    past = datetime.now(timezone.utc) - timedelta(days=40)
    late = make_round(session, registry.scene, registry.squad, [registry.people["wang"], registry.people["li"]],
                      registry.targets[:2], period_key="2020-01", window_start=past,
                      window_end=past + timedelta(days=30))
    session.commit()
    first = jobs.sweep_overdue(app)
    second = jobs.sweep_overdue(app)
    assert first == {"overdue": 1, "completed": 0, "started": 0, "visits_flagged": 2}
    assert second == {"overdue": 0, "completed": 0, "started": 0, "visits_flagged": 0}
    session.rollback()
    assert session.get(Round, late.id).status == "overdue"


def test_started_scheduler_runs_the_jobs_and_stops_cleanly(app, registry, session):
    scheduler = jobs.build_scheduler(app, BackgroundScheduler)  # every job also runs once at start
    scheduler.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not _count(session, Round.id):
            time.sleep(0.1)
    finally:
        scheduler.shutdown(wait=True)
    assert _count(session, Round.id) >= 1


def test_short_interval_job_runs_repeatedly_until_shut_down(app):
    ran = []
    twice = threading.Event()

    def probe(app_):
        ran.append(app_)
        if len(ran) >= 2:
            twice.set()

    scheduler = jobs.build_scheduler(app, BackgroundScheduler,
                                     [jobs.Job("probe", probe, lambda: IntervalTrigger(seconds=0.2))], run_now=False)
    scheduler.start()
    try:
        assert twice.wait(10)
    finally:
        scheduler.shutdown(wait=True)
    count = len(ran)
    time.sleep(0.5)
    assert len(ran) == count and ran[0] is app


def test_scheduler_run_command_runs_the_blocking_scheduler(app, runner, monkeypatch):
    seen = {}

    class Once(BlockingScheduler):
        def start(self, *args, **kwargs):
            seen["jobs"] = sorted(job.id for job in self.get_jobs())
            seen["zone"] = str(self.timezone)

    monkeypatch.setattr(jobs, "BlockingScheduler", Once)
    result = runner.invoke(args=["scheduler", "run"])
    assert result.exit_code == 0, result.output
    assert "rounds.generate" in result.output
    assert seen == {"jobs": sorted(job.id for job in jobs.JOBS), "zone": "Asia/Shanghai"}


def test_rectification_and_checkpoint_jobs_are_safe_to_run_twice(app, world, session):
    """A due rectification gets one re-inspection visit and the chain one checkpoint, however often jobs run."""
    from lianduinspect.models import AuditCheckpoint, Rectification, Visit

    from .factories_review import make_inspection, make_rectification
    from .inspection_bodies import visits_of

    visit = visits_of(session, world.round)[0]
    item_id = world.scene.versions[0].items[0].id
    inspection = make_inspection(session, visit, [world.inspector, world.partner], results={item_id: "fail"},
                                 outcome="rectify")
    rect = make_rectification(session, inspection, item_id, deadline=datetime.now(timezone.utc) - timedelta(days=1))
    session.commit()
    for _ in range(2):
        jobs.plan_reinspections(app)
        jobs.escalate_overdue(app)
        jobs.make_checkpoint(app)
    with app.app_context():
        from lianduinspect.db import db

        planned = db.session.get(Rectification, rect.id)
        assert planned.status == "reinspection_planned"
        visits = db.session.scalars(select(Visit).where(Visit.target_id == visit.target_id,
                                                        Visit.exemption == "reinspection")).all()
        assert len(visits) == 1
        assert db.session.scalar(select(func.count()).select_from(AuditCheckpoint)) == 1
