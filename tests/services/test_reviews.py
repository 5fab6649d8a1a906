"""Review decisions, the queue, the full record, bulk approval, comments for the phone, and reports."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from lianduinspect.errors import ApiError, NotFound, ValidationFailed
from lianduinspect.models import AuditEvent, Review
from lianduinspect.services import audit, reviews

from ..factories import make_round, make_scene
from ..factories_review import (STARTED, bare_facts, items_of, make_evidence, make_inspection, make_rectification,
                                make_review, sha, visits_of)


@pytest.fixture
def record(session, world):
    """A submitted record of the world's first visit, evidence complete, one failed item."""
    visit = visits_of(session, world.round)[0]
    item = items_of(session, visit)[0]
    photo = make_evidence(session, uploaded_by=world.inspector)
    return make_inspection(session, visit, [world.inspector, world.partner], outcome="rectify",
                           results={item.id: ("fail", "消防通道堵塞")},
                           photos=[{"sha256": photo.sha256, "item_id": item.id}])


def _decide(app, session, actor, inspection, now, **values):
    return reviews.decide(session, actor, inspection.id, {"item_comments": {}, **values}, now=now, config=app.config)


def test_approving_a_submitted_revision_sets_its_status_and_is_audited(app, session, world, record, now):
    review = _decide(app, session, world.supervisor, record, now, decision="approved")
    assert record.status == "approved" and review.decision == "approved"
    pending = session.info[audit._PENDING]
    assert [e["action"] for e in pending] == ["review.approve"]
    assert pending[0]["data"]["revision"] == 1


@pytest.mark.parametrize("decision", ["rejected", "needs_evidence"])
def test_sending_back_requires_a_reason(app, session, world, record, now, decision):
    with pytest.raises(ValidationFailed) as err:
        _decide(app, session, world.supervisor, record, now, decision=decision, reason="  ")
    assert "reason" in err.value.details
    assert record.status == "submitted"


def test_decided_revision_cannot_be_decided_again(app, session, world, record, now):
    _decide(app, session, world.supervisor, record, now, decision="rejected", reason="照片与检查对象不符")
    with pytest.raises(ApiError) as err:
        _decide(app, session, world.admin, record, now, decision="approved")
    assert err.value.code == "review.state" and err.value.details == {"status": "rejected"}
    assert len(session.scalars(select(Review).where(Review.inspection_id == record.id)).all()) == 1


def test_superseded_revision_cannot_be_reviewed(app, session, world, record, now):
    make_inspection(session, record.visit, [world.inspector, world.partner], revision=2, supersedes=record)
    with pytest.raises(ApiError) as err:
        _decide(app, session, world.supervisor, record, now, decision="approved")
    assert err.value.details == {"status": "superseded"}


def test_unknown_record_is_not_found(app, session, world, now):
    with pytest.raises(NotFound):
        reviews.decide(session, world.supervisor, 999999, {"decision": "approved"}, now=now, config=app.config)


def test_item_comments_must_name_items_of_the_record(app, session, world, record, now):
    with pytest.raises(ValidationFailed) as err:
        _decide(app, session, world.supervisor, record, now, decision="needs_evidence", reason="补拍",
                item_comments={"999999": "没有这一项"})
    assert err.value.details == {"item_comments": {"999999": ["Not an item of this record."]}}


def test_item_comments_travel_back_to_everyone_on_the_record(app, session, world, record, now):
    item = record.results[0].item_id
    _decide(app, session, world.supervisor, record, now, decision="needs_evidence", reason="缺少整改前照片",
            item_comments={str(item): "请补拍消防通道全景"})
    for user in (world.inspector, world.partner):
        comments = reviews.comments_for_user(session, user)
        assert comments == [{
            "inspection_id": record.id, "inspection_uuid": record.uuid, "visit_id": record.visit_id, "revision": 1,
            "decision": "needs_evidence", "reason": "缺少整改前照片", "reviewed_at": now.isoformat(),
            "item_comments": [{"item_id": item, "comment": "请补拍消防通道全景"}]}]
    assert reviews.comments_for_user(session, world.stranger) == []


def test_comments_stop_travelling_once_a_correction_supersedes_the_record(app, session, world, record, now):
    _decide(app, session, world.supervisor, record, now, decision="rejected", reason="两名执法人员签名不全")
    make_inspection(session, record.visit, [world.inspector, world.partner], revision=2, supersedes=record)
    assert reviews.comments_for_user(session, world.inspector) == []


def _queue_ids(session, actor, **kw):
    rows, cursor = reviews.queue(session, actor, **kw)
    return [r["id"] for r in rows], cursor


def test_queue_lists_evidence_complete_first_then_the_oldest(session, world):
    visits = visits_of(session, world.round)
    team = [world.inspector, world.partner]
    incomplete_old = make_inspection(session, visits[0], team, photos=[{"sha256": sha()}],
                                     received_at=STARTED + timedelta(hours=2))
    complete_new = make_inspection(session, visits[1], team, received_at=STARTED + timedelta(hours=9))
    complete_old = make_inspection(session, visits[2], team, received_at=STARTED + timedelta(hours=3))
    ids, _ = _queue_ids(session, world.supervisor)
    assert ids == [complete_old.id, complete_new.id, incomplete_old.id]


def test_queue_cursor_visits_every_submitted_revision_once_in_order(session, world):
    seed = random.randrange(1 << 30)
    print(f"seed={seed}")
    rng = random.Random(seed)
    team = [world.inspector, world.partner]
    targets = world.targets[4:] + world.targets[:4]
    rnd = make_round(session, world.scene, world.squad, team, targets, period_key="2023-04-b", kind="campaign")
    made = []
    for visit in visits_of(session, rnd):
        photos = [] if rng.random() < 0.5 else [{"sha256": sha()}]
        # Ties on received_at are deliberate: the id breaks them.
        made.append(make_inspection(session, visit, team, photos=photos,
                                    received_at=STARTED + timedelta(hours=rng.randrange(3))))
    expected = [i.id for i in sorted(made, key=lambda i: (not i.evidence_complete, i.received_at, i.id))]
    seen, cursor = [], None
    while True:
        ids, cursor = _queue_ids(session, world.supervisor, cursor=cursor, limit=rng.randrange(1, 4))
        seen.extend(ids)
        if cursor is None:
            break
    assert seen == expected


def test_queue_filters_by_squad_scene_period_and_flags(app, session, world, now):
    team = [world.inspector, world.partner]
    ours = make_inspection(session, visits_of(session, world.round)[0], team)
    theirs = make_inspection(session, visits_of(session, world.other_round)[0], [world.stranger, world.partner])
    other_scene = make_scene(session, world.departments[:2], code="jzgd", name="建筑工地")
    later = make_round(session, other_scene, world.squad, team, [world.targets[5]], period_key="2023-05")
    building = make_inspection(session, visits_of(session, later)[0], team,
                               photos=[{"sha256": make_evidence(session, uploaded_by=world.inspector,
                                                                facts=bare_facts()).sha256}])
    for inspection in (ours, theirs, building):
        reviews.authenticity.refresh_flags(session, inspection, now=now, config=app.config)
    assert _queue_ids(session, world.supervisor, squad_id=world.other_squad.id)[0] == [theirs.id]
    assert _queue_ids(session, world.supervisor, scene_id=other_scene.id)[0] == [building.id]
    assert _queue_ids(session, world.supervisor, period="2023-04")[0] == [ours.id, theirs.id]
    assert _queue_ids(session, world.supervisor, flagged=True)[0] == [building.id]
    assert _queue_ids(session, world.supervisor, flagged=False)[0] == [ours.id, theirs.id]


def test_record_shows_photos_facts_flags_and_the_diff_to_the_previous_revision(app, session, world, record, now):
    item_a, item_b = (r.item_id for r in record.results[:2])
    reviews.decide(session, world.supervisor, record.id, {"decision": "needs_evidence", "reason": "补拍"},
                   now=now, config=app.config)
    added = make_evidence(session, uploaded_by=world.inspector, facts=bare_facts())
    second = make_inspection(session, record.visit, [world.inspector, world.partner], revision=2, supersedes=record,
                             outcome="rectify", results={item_a: ("fail", "消防通道堵塞，已拍全景"), item_b: "na"},
                             photos=[{"sha256": record.photos[0].sha256, "item_id": item_a},
                                     {"sha256": added.sha256, "item_id": item_a}])
    shown = reviews.get_record(session, world.supervisor, second.id, now=now, config=app.config)
    assert shown["diff"]["previous_revision"] == 1
    changes = {c["item_id"]: c for c in shown["diff"]["items"]}
    assert set(changes) == {item_a, item_b}
    assert changes[item_a]["note"] == {"from": "消防通道堵塞", "to": "消防通道堵塞，已拍全景"}
    assert "result" not in changes[item_a]
    assert changes[item_a]["photos"] == {"added": [added.sha256], "removed": []}
    assert changes[item_b]["result"] == {"from": "pass", "to": "na"}
    # Flags were missing, so the read computed and stored them.
    assert [f["code"] for f in shown["flags"]] == ["no_camera_metadata"]
    assert second.flags == shown["flags"]
    photo = next(p for p in shown["photos"] if p["sha256"] == added.sha256)
    assert photo["evidence"]["facts"]["has_camera_metadata"] is False
    assert [f["code"] for f in photo["flags"]] == ["no_camera_metadata"]


def test_bulk_approve_approves_only_unflagged_complete_submitted_records(app, session, world, now):
    visits = visits_of(session, world.round)
    team = [world.inspector, world.partner]
    clean = make_inspection(session, visits[0], team)
    incomplete = make_inspection(session, visits[1], team, photos=[{"sha256": sha()}])
    bare = make_evidence(session, uploaded_by=world.inspector, facts=bare_facts())
    flagged = make_inspection(session, visits[2], team, photos=[{"sha256": bare.sha256}])
    decided = make_inspection(session, visits[3], team)
    make_review(session, decided, world.supervisor, "rejected", reason="x")
    result = reviews.bulk_approve(session, world.supervisor, [clean.id, incomplete.id, flagged.id, decided.id,
                                                              clean.id, 424242], now=now, config=app.config)
    by_id = {r["inspection_id"]: r for r in result["results"]}
    assert (result["approved"], result["skipped"]) == (1, 4)
    assert by_id[clean.id]["result"] == "approved" and clean.status == "approved"
    assert by_id[incomplete.id]["reason"] == "evidence_incomplete"
    assert by_id[flagged.id] == {"inspection_id": flagged.id, "result": "skipped", "reason": "flagged",
                                 "flags": ["no_camera_metadata"]}
    assert by_id[decided.id]["reason"] == "state" and by_id[decided.id]["status"] == "rejected"
    assert by_id[424242]["reason"] == "not_found"
    assert [e["action"] for e in session.info[audit._PENDING]] == ["review.approve"]


def test_only_approved_records_count_in_reports(app, session, world, now):
    visits = visits_of(session, world.round)
    team = [world.inspector, world.partner]
    item = items_of(session, visits[0])[0]
    approved = make_inspection(session, visits[0], team, outcome="rectify", results={item.id: "fail"})
    make_review(session, approved, world.supervisor, "approved")
    make_inspection(session, visits[1], team)  # submitted: not counted
    rejected = make_inspection(session, visits[2], team)
    make_review(session, rejected, world.supervisor, "rejected", reason="x")
    make_rectification(session, approved, item.id, deadline=now - timedelta(days=10))
    report = reviews.report_summary(session, world.supervisor, period="2023-04", now=now)
    assert report["approved"] == 1
    assert report["by_outcome"] == {"pass": 0, "rectify": 1, "refer": 0}
    assert report["by_scene"] == [{"scene_id": world.scene.id, "name": "餐饮服务场所", "approved": 1}]
    depts = {d["code"]: d for d in report["by_department"]}
    assert depts[item.department.code]["items_failed"] == 1
    assert sum(d["items_checked"] for d in depts.values()) == 6
    assert report["rectifications"] == {"open": 1, "reinspection_planned": 0, "closed": 0, "overdue": 1,
                                        "escalated": 0}
    assert reviews.report_summary(session, world.supervisor, period="2023-05", now=now)["approved"] == 0


def test_leader_reports_on_own_squad_only(app, session, world, now):
    theirs = make_inspection(session, visits_of(session, world.other_round)[0], [world.stranger, world.partner])
    make_review(session, theirs, world.supervisor, "approved")
    mine = reviews.report_summary(session, world.leader, now=now)
    assert (mine["squad_id"], mine["approved"]) == (world.squad.id, 0)
    assert reviews.report_summary(session, world.supervisor, now=now)["approved"] == 1
    with pytest.raises(NotFound):
        reviews.report_summary(session, world.leader, squad_id=world.other_squad.id, now=now)


def test_decisions_are_chained_into_the_audit_record_at_commit(app, session, world, record, now):
    from lianduinspect.db import transaction

    record_id = record.id
    session.commit()
    with app.test_request_context():
        with transaction() as s:
            reviews.decide(s, world.supervisor, record_id, {"decision": "rejected", "reason": "GPS 偏离"}, now=now,
                           config=app.config)
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "review.reject")).one()
    assert event.subject_id == str(record_id) and event.data["reason"] == "GPS 偏离"
