"""The rectification loop: 整改 → 复查 → 销号, escalation and look-back, every step audited."""
from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image
from sqlalchemy import select

from lianduinspect.db import db, transaction
from lianduinspect.errors import ApiError, NotFound, ValidationFailed
from lianduinspect.models import AuditEvent, Rectification, Round, Visit
from lianduinspect.services import audit, rectifications

from ..factories_review import (evidence_from_bytes, items_of, jpeg, make_evidence, make_inspection,
                                make_rectification, scene_image, visits_of)


def _actions(session):
    return [(e["action"], e["subject_id"]) for e in session.info.get(audit._PENDING, [])]


@pytest.fixture
def failed(session, world):
    """A record of the world's first visit with two failed items and a before photo of the first."""
    visit = visits_of(session, world.round)[0]
    items = items_of(session, visit)
    before = evidence_from_bytes(session, jpeg(scene_image(31)), uploaded_by=world.inspector)
    inspection = make_inspection(session, visit, [world.inspector, world.partner], outcome="rectify",
                                 results={items[0].id: "fail", items[1].id: "fail"},
                                 photos=[{"sha256": before.sha256, "item_id": items[0].id}])
    return inspection, items, before


def test_opening_a_rectification_is_audited(session, world, failed, now):
    inspection, items, before = failed
    rect = rectifications.open_rectification(session, world.inspector, inspection, items[0].id,
                                             deadline=now + timedelta(days=7), before_sha256=before.sha256, now=now)
    assert rect.status == "open" and rect.squad_id == world.squad.id
    assert _actions(session) == [("rectification.open", str(rect.id))]


def test_due_rectification_gets_a_reinspection_visit_exempt_from_the_cap(session, world, failed, now):
    inspection, items, _ = failed
    rect = make_rectification(session, inspection, items[0].id, deadline=now - timedelta(hours=1))
    planned = rectifications.plan_reinspections(session, now=now)
    assert [r.id for r in planned] == [rect.id]
    assert rect.status == "reinspection_planned"
    visit = session.get(Visit, rect.reinspection_visit_id)
    assert (visit.status, visit.exemption, visit.target_id) == ("pending", "reinspection", rect.target_id)
    rnd = visit.round
    assert (rnd.kind, rnd.squad_id, rnd.scene_id, rnd.period_key) == ("reinspection", world.squad.id,
                                                                      world.scene.id, "2023-04")
    assert [u.id for u in rnd.members] == [world.inspector.id, world.partner.id]
    assert rnd.window_end > now
    assert ("rectification.plan", str(rect.id)) in _actions(session)


def test_rectification_not_yet_due_is_not_planned(session, failed, now):
    inspection, items, _ = failed
    rect = make_rectification(session, inspection, items[0].id, deadline=now + timedelta(days=1))
    assert rectifications.plan_reinspections(session, now=now) == []
    assert rect.status == "open"


def test_planning_twice_plans_once(session, failed, now):
    inspection, items, _ = failed
    rect = make_rectification(session, inspection, items[0].id, deadline=now - timedelta(days=1))
    rectifications.plan_reinspections(session, now=now)
    assert rectifications.plan_reinspections(session, now=now + timedelta(hours=1)) == []
    assert len(session.scalars(select(Visit).where(Visit.exemption == "reinspection")).all()) == 1
    assert rect.status == "reinspection_planned"


def test_items_of_one_target_due_together_share_one_visit_and_round(session, failed, now):
    inspection, items, _ = failed
    a = make_rectification(session, inspection, items[0].id, deadline=now - timedelta(days=1))
    b = make_rectification(session, inspection, items[1].id, deadline=now - timedelta(hours=2))
    rectifications.plan_reinspections(session, now=now)
    assert a.reinspection_visit_id == b.reinspection_visit_id
    assert len(session.scalars(select(Round).where(Round.kind == "reinspection")).all()) == 1


def test_later_due_rectifications_of_the_month_join_the_same_round(session, world, failed, now):
    inspection, items, _ = failed
    a = make_rectification(session, inspection, items[0].id, deadline=now - timedelta(days=1))
    rectifications.plan_reinspections(session, now=now)
    other = visits_of(session, world.round)[1]
    second = make_inspection(session, other, [world.inspector, world.partner], outcome="rectify",
                             results={items[0].id: "fail"})
    b = make_rectification(session, second, items[0].id, deadline=now + timedelta(days=3))
    rectifications.plan_reinspections(session, now=now + timedelta(days=4))
    first_visit, second_visit = session.get(Visit, a.reinspection_visit_id), session.get(Visit, b.reinspection_visit_id)
    assert first_visit.id != second_visit.id and first_visit.round_id == second_visit.round_id


def _close(app, session, actor, rect, after_sha, now):
    return rectifications.close(session, actor, rect.id, {"after_sha256": after_sha}, now=now, config=app.config)


def test_closing_needs_an_uploaded_after_photo(app, session, world, failed, now):
    inspection, items, before = failed
    rect = make_rectification(session, inspection, items[0].id, deadline=now, before_sha256=before.sha256)
    with pytest.raises(ValidationFailed) as err:
        _close(app, session, world.inspector, rect, "ab" * 32, now)
    assert "after_sha256" in err.value.details


def test_the_before_photo_itself_cannot_close(app, session, world, failed, now):
    inspection, items, before = failed
    rect = make_rectification(session, inspection, items[0].id, deadline=now, before_sha256=before.sha256)
    with pytest.raises(ApiError) as err:
        _close(app, session, world.inspector, rect, before.sha256, now)
    assert (err.value.code, err.value.details["distance"]) == ("rectification.same_photo", 0)
    assert rect.status == "open"


@pytest.mark.parametrize("copy", [
    pytest.param(lambda im: jpeg(im.resize((400, 300)), 50), id="re-encoded"),
    pytest.param(lambda im: jpeg(im.transpose(Image.Transpose.ROTATE_90), 85), id="rotated"),
])
def test_a_copy_of_the_before_photo_cannot_close(app, session, world, failed, now, copy):
    inspection, items, before = failed
    rect = make_rectification(session, inspection, items[0].id, deadline=now, before_sha256=before.sha256)
    after = evidence_from_bytes(session, copy(scene_image(31)), uploaded_by=world.inspector)
    with pytest.raises(ApiError) as err:
        _close(app, session, world.inspector, rect, after.sha256, now)
    assert err.value.code == "rectification.same_photo"
    assert err.value.details["distance"] <= err.value.details["limit"]


def test_a_new_after_photo_closes_and_is_audited(app, session, world, failed, now):
    inspection, items, before = failed
    rect = make_rectification(session, inspection, items[0].id, deadline=now, before_sha256=before.sha256)
    after = evidence_from_bytes(session, jpeg(scene_image(32)), uploaded_by=world.inspector)
    _close(app, session, world.inspector, rect, after.sha256.upper(), now)
    assert (rect.status, rect.after_sha256, rect.closed_at) == ("closed", after.sha256, now)
    assert ("rectification.close", str(rect.id)) in _actions(session)
    with pytest.raises(ApiError) as err:
        _close(app, session, world.inspector, rect, after.sha256, now)
    assert err.value.code == "rectification.state"


def test_other_squads_cannot_see_or_close_a_rectification(app, session, world, failed, now):
    inspection, items, _ = failed
    rect = make_rectification(session, inspection, items[0].id, deadline=now)
    after = make_evidence(session, uploaded_by=world.stranger)
    with pytest.raises(NotFound):
        _close(app, session, world.stranger, rect, after.sha256, now)
    rows, _ = rectifications.list_rectifications(session, world.stranger, now=now)
    assert rows == []
    rows, _ = rectifications.list_rectifications(session, world.supervisor, now=now)
    assert [r.id for r in rows] == [rect.id]


def test_leader_moves_an_open_deadline_with_a_reason_audited(session, world, failed, now):
    inspection, items, _ = failed
    rect = make_rectification(session, inspection, items[0].id, deadline=now + timedelta(days=2))
    new = now + timedelta(days=20)
    rectifications.change_deadline(session, world.leader, rect.id, {"deadline": new, "reason": "企业申请延期，设备待采购"},
                                   now=now)
    assert rect.deadline == new
    event = session.info[audit._PENDING][-1]
    assert event["action"] == "rectification.deadline" and event["data"]["reason"] == "企业申请延期，设备待采购"


def test_deadline_cannot_move_into_the_past_or_after_planning(session, world, failed, now):
    inspection, items, _ = failed
    rect = make_rectification(session, inspection, items[0].id, deadline=now - timedelta(days=1))
    with pytest.raises(ValidationFailed):
        rectifications.change_deadline(session, world.leader, rect.id,
                                       {"deadline": now - timedelta(hours=1), "reason": "补"}, now=now)
    rectifications.plan_reinspections(session, now=now)
    with pytest.raises(ApiError) as err:
        rectifications.change_deadline(session, world.leader, rect.id,
                                       {"deadline": now + timedelta(days=5), "reason": "延期"}, now=now)
    assert err.value.details == {"status": "reinspection_planned"}


def test_overdue_rectifications_are_escalated_once_to_the_leader(session, world, failed, now):
    inspection, items, _ = failed
    overdue = make_rectification(session, inspection, items[0].id, deadline=now - timedelta(days=8))
    recent = make_rectification(session, inspection, items[1].id, deadline=now - timedelta(days=2))
    escalated = rectifications.escalate_overdue(session, now=now)
    assert [r.id for r in escalated] == [overdue.id]
    assert overdue.escalated_at == now and recent.escalated_at is None
    event = session.info[audit._PENDING][-1]
    assert event["action"] == "rectification.escalate" and event["data"]["leaders"] == [world.leader.id]
    assert rectifications.escalate_overdue(session, now=now + timedelta(hours=1)) == []
    rows, _ = rectifications.list_rectifications(session, world.leader, now=now, overdue=True)
    assert [r.id for r in rows] == [overdue.id]


def _closed_rectifications(session, world, count, closed_at):
    """Close ``count`` rectifications at the given time, across the world's items."""
    visit = visits_of(session, world.round)[0]
    items = items_of(session, visit)
    made = []
    revision = None
    for n in range(count):
        if n % len(items) == 0:
            revision = make_inspection(session, visit, [world.inspector, world.partner], outcome="rectify",
                                       revision=n // len(items) + 1, supersedes=revision,
                                       results={i.id: "fail" for i in items})
        made.append(make_rectification(session, revision, items[n % len(items)].id, deadline=closed_at,
                                       status="closed", closed_at=closed_at))
    return made


def test_lookback_draw_is_reproducible_and_running_it_again_changes_nothing(session, world, now):
    seed = random.randrange(1 << 30)
    print(f"seed={seed}")
    last_month = datetime(2023, 3, 20, 3, 0, tzinfo=timezone.utc)
    made = _closed_rectifications(session, world, 23, last_month)
    first = rectifications.draw_lookback(session, now=now, share=0.2, seed=seed)
    assert len(first) == 5  # ceil(0.2 * 23)
    assert sorted(r.id for r in made if r.lookback) == [r.id for r in first]
    events = len(session.info[audit._PENDING])
    assert session.info[audit._PENDING][-1]["action"] == "rectification.lookback"
    for again_seed in (seed, seed + 1):
        again = rectifications.draw_lookback(session, now=now + timedelta(days=2), share=0.2, seed=again_seed)
        assert [r.id for r in again] == [r.id for r in first]
    assert len(session.info[audit._PENDING]) == events  # the month was drawn: nothing new to record


def test_the_same_seed_and_candidates_draw_the_same(session, world, now):
    seed = random.randrange(1 << 30)
    print(f"seed={seed}")
    _closed_rectifications(session, world, 17, datetime(2023, 3, 5, tzinfo=timezone.utc))
    draws = []
    for _ in range(2):
        nested = session.begin_nested()
        draws.append([r.id for r in rectifications.draw_lookback(session, now=now, share=0.3, seed=seed)])
        nested.rollback()
    assert draws[0] == draws[1] and len(draws[0]) == 6


def test_lookback_draws_from_last_months_closed_only(session, world, now):
    this_month = datetime(2023, 4, 2, 3, 0, tzinfo=timezone.utc)
    made = _closed_rectifications(session, world, 4, this_month)
    assert rectifications.draw_lookback(session, now=now, share=1.0, seed="x") == []
    assert not any(r.lookback for r in made)
    # Next month, these are last month's.
    assert len(rectifications.draw_lookback(session, now=now + timedelta(days=25), share=1.0, seed="x")) == 4


def test_different_seeds_draw_differently(session, world, now):
    _closed_rectifications(session, world, 30, datetime(2023, 3, 10, tzinfo=timezone.utc))
    picks = set()
    for seed in range(8):
        nested = session.begin_nested()
        picks.add(tuple(r.id for r in rectifications.draw_lookback(session, now=now, share=0.1, seed=seed)))
        nested.rollback()
    assert len(picks) > 1 and all(len(p) == 3 for p in picks)


def test_two_schedulers_planning_at_once_plan_each_rectification_once(app, session, world, now):
    team = [world.inspector, world.partner]
    rects = []
    for visit in visits_of(session, world.round):
        item = items_of(session, visit)[0]
        inspection = make_inspection(session, visit, team, outcome="rectify", results={item.id: "fail"})
        rects.append(make_rectification(session, inspection, item.id, deadline=now - timedelta(days=1)).id)
    session.commit()
    barrier = threading.Barrier(2)
    errors = []

    def schedule():
        try:
            with app.app_context():
                barrier.wait()
                with transaction() as s:
                    rectifications.plan_reinspections(s, now=now)
                db.session.remove()
        except Exception as err:  # reported below; a thread's exception would vanish
            errors.append(err)

    threads = [threading.Thread(target=schedule) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    session.expire_all()
    planned = session.scalars(select(Rectification).where(Rectification.id.in_(rects))).all()
    assert {r.status for r in planned} == {"reinspection_planned"}
    assert len(session.scalars(select(Round).where(Round.kind == "reinspection")).all()) == 1
    assert len({r.reinspection_visit_id for r in planned}) == len(rects)
    assert len(session.scalars(select(AuditEvent).where(AuditEvent.action == "rectification.plan")).all()) == len(rects)
