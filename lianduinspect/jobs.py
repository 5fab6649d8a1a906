"""Background jobs and the scheduler that runs them (STYLE item 11: thin jobs, explicit scheduler).

Each job opens one transaction in an app context and calls one service with the current time. Jobs
are safe to run twice, or on two hosts at once: the database refuses a second round for a (scene,
squad, period), and the sweep only moves what still needs moving.

Production runs exactly one ``flask --app lianduinspect scheduler run`` (a BlockingScheduler);
``make run`` sets LIANDUINSPECT_SCHEDULER_ENABLED and ``create_app`` calls ``start_in_app`` (a
BackgroundScheduler in the web process). Tests never start a scheduler unless they do it themselves.
"""
from __future__ import annotations

import atexit
import hashlib
import hmac
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask
from werkzeug.serving import is_running_from_reloader

from .db import transaction
from .rules.periods import BUREAU_TZ
from .services import audit_chain, rectifications, rounds

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --- the jobs ----------------------------------------------------------------------------------

def generate_rounds(app: Flask):
    """Generate the current periods' missing rounds and the coming ones a few days ahead."""
    with app.app_context():
        with transaction() as session:
            reports = rounds.generate_due(session, None, secret=app.config["SECRET_KEY"], now=_now())
    for report in reports:
        log.info("rounds %s: %s", ", ".join(report.period_keys), report.summary())
    return reports


def sweep_overdue(app: Flask) -> dict:
    """Flag rounds past their window overdue, with their pending visits; complete finished rounds."""
    with app.app_context():
        with transaction() as session:
            result = rounds.sweep_overdue(session, None, now=_now())
    log.info("overdue sweep: %s", result)
    return result


def plan_reinspections(app: Flask) -> int:
    """Plan a re-inspection visit (复查) for each rectification whose deadline has arrived."""
    with app.app_context():
        with transaction() as session:
            planned = rectifications.plan_reinspections(session, now=_now())
    log.info("re-inspections planned: %d", len(planned))
    return len(planned)


def escalate_overdue(app: Flask) -> int:
    """Escalate overdue rectifications to their squad leaders."""
    with app.app_context():
        with transaction() as session:
            escalated = rectifications.escalate_overdue(session, now=_now())
    log.info("rectifications escalated: %d", len(escalated))
    return len(escalated)


def draw_lookback(app: Flask) -> int:
    """Draw last month's share of closed rectifications for a look-back (回头看)."""
    seed = hmac.new(app.config["SECRET_KEY"].encode(), b"lookback", hashlib.sha256).hexdigest()
    with app.app_context():
        with transaction() as session:
            drawn = rectifications.draw_lookback(session, now=_now(), seed=seed)
    log.info("look-back drawn: %d", len(drawn))
    return len(drawn)


def make_checkpoint(app: Flask) -> int | None:
    """Sign today's audit checkpoint (chain length and head hash) with the server's Ed25519 key."""
    key = audit_chain.signing_key(app.config["SIGNING_KEY_PATH"])
    with app.app_context():
        with transaction() as session:
            checkpoint = audit_chain.make_checkpoint(session, now=_now(), key=key)
        length = checkpoint.length if checkpoint is not None else None
    log.info("audit checkpoint: %s", length if length is not None else "unchanged")
    return length


@dataclass(frozen=True)
class Job:
    id: str
    func: Callable[[Flask], object]
    trigger: Callable[[], object]  # a fresh APScheduler trigger per scheduler


JOBS: list[Job] = [
    # Daily, early morning in Lishui, so the coming period's rounds exist days before it begins.
    Job("rounds.generate", generate_rounds, lambda: CronTrigger(hour=2, minute=10, timezone=BUREAU_TZ)),
    Job("rounds.sweep_overdue", sweep_overdue, lambda: IntervalTrigger(hours=1, timezone=BUREAU_TZ)),
    # Rectification loop (整改 → 复查 → 销号) and the audit chain's signed checkpoint.
    Job("rectifications.plan_reinspections", plan_reinspections,
        lambda: CronTrigger(hour=6, minute=30, timezone=BUREAU_TZ)),
    Job("rectifications.escalate_overdue", escalate_overdue, lambda: IntervalTrigger(hours=1, timezone=BUREAU_TZ)),
    Job("rectifications.draw_lookback", draw_lookback, lambda: CronTrigger(day=1, hour=3, timezone=BUREAU_TZ)),
    Job("audit.checkpoint", make_checkpoint, lambda: CronTrigger(hour=0, minute=5, timezone=BUREAU_TZ)),
]


# --- the scheduler -----------------------------------------------------------------------------

def build_scheduler(app: Flask, scheduler_class: type[BaseScheduler] = BackgroundScheduler,
                    jobs: list[Job] | None = None, *, run_now: bool = True) -> BaseScheduler:
    """Return a scheduler holding the jobs (not started); with run_now each also runs at start."""
    scheduler = scheduler_class(timezone=BUREAU_TZ,
                                job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600})
    for job in JOBS if jobs is None else jobs:
        extra = {"next_run_time": datetime.now(BUREAU_TZ)} if run_now else {}
        scheduler.add_job(job.func, job.trigger(), args=[app], id=job.id, name=job.id, replace_existing=True,
                          **extra)
    return scheduler


_started: BaseScheduler | None = None
_start_lock = threading.Lock()


def start_in_app(app: Flask) -> BaseScheduler | None:
    """Start the in-process scheduler of `make run`, once per process; never while testing."""
    global _started
    if app.config.get("TESTING"):
        return None
    # Under `flask run --debug` the reloader's watching parent also builds the app; only the child
    # that serves requests runs the jobs, or every job would run twice.
    if app.debug and not is_running_from_reloader():
        return None
    with _start_lock:
        if _started is not None:
            return _started
        scheduler = build_scheduler(app, BackgroundScheduler)
        scheduler.start()
        atexit.register(lambda: scheduler.shutdown(wait=False) if scheduler.running else None)
        app.extensions["lianduinspect.scheduler"] = scheduler
        _started = scheduler
        return scheduler


def stop_in_app() -> None:
    """Stop the in-process scheduler, if this process started one."""
    global _started
    with _start_lock:
        if _started is not None and _started.running:
            _started.shutdown(wait=True)
        _started = None


def run_blocking(app: Flask, scheduler_class: type[BaseScheduler] | None = None) -> BaseScheduler:
    """Run the production scheduler in the foreground until interrupted."""
    stop_in_app()  # SCHEDULER_ENABLED as well: this process runs the jobs once, not twice
    scheduler = build_scheduler(app, scheduler_class or BlockingScheduler)
    for job in scheduler.get_jobs():
        log.info("scheduled %s: %s", job.id, job.trigger)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    return scheduler
