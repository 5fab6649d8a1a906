"""Inspection submission as a service: plain values in, a stored revision or a domain error out."""
from __future__ import annotations

import logging
from datetime import timedelta, timezone

import pytest
from sqlalchemy import func, insert, select, text

from lianduinspect.db import insert_rows, transaction
from lianduinspect.errors import ApiError
from lianduinspect.models import (AuditEvent, Evidence, Inspection, InspectionConflict, ItemResult, Rectification,
                                  Visit)
from lianduinspect.rules.chain import canonical
from lianduinspect.services import inspections
from lianduinspect.services.audit import event_time

from ..factories import make_round, make_scene, make_user
from ..inspection_bodies import checklist, new_uuid, sha, values, visits_of


def _count(session, model, *where):
    return session.scalar(select(func.count()).select_from(model).where(*where))


def _submit(session, actor, key, vals, now):
    with transaction() as s:
        return inspections.submit(s, actor, key, vals, now=now)


@pytest.fixture
def visit(session, world):
    return visits_of(session, world.round)[0]


def test_two_certified_officers_are_required(session, world, visit, now):
    with pytest.raises(ApiError) as err:
        _submit(session, world.inspector, new_uuid(), values(world, visit, now=now, inspectors=[world.inspector]), now)
    assert err.value.code == "validation"
    assert "inspector_ids" in err.value.details
    assert _count(session, Inspection) == 0


def test_inspector_without_certificate_does_not_count(session, world, visit, now):
    trainee = make_user(session, ("inspector",), squad_id=world.squad.id, certificate_no=None)
    session.commit()
    with pytest.raises(ApiError) as err:
        _submit(session, world.inspector, new_uuid(),
                values(world, visit, now=now, inspectors=[world.inspector, trainee]), now)
    assert any("certificate" in m for m in err.value.details["inspector_ids"])


def test_disabled_inspector_does_not_count(session, world, visit, now):
    world.partner.active = False
    session.commit()
    with pytest.raises(ApiError) as err:
        _submit(session, world.inspector, new_uuid(), values(world, visit, now=now), now)
    assert any("disabled" in m for m in err.value.details["inspector_ids"])


def test_submission_stores_results_inspectors_photos_and_marks_visit_inspected(session, world, visit, now):
    key = new_uuid()
    outcome = _submit(session, world.inspector, key, values(world, visit, now=now), now)
    assert outcome.status == "created"
    stored = session.scalars(select(Inspection).where(Inspection.uuid == key)).one()
    assert stored.revision == 1 and stored.status == "submitted" and stored.submitted_by_id == world.inspector.id
    assert [u.id for u in stored.inspectors] == sorted([world.inspector.id, world.partner.id])
    assert {r.item_id for r in stored.results} == {i.id for i in checklist(visit)}
    assert [p.sha256 for p in stored.photos] == [sha(f"scene {visit.id}")]
    assert session.get(Visit, visit.id).status == "inspected"
    assert _count(session, AuditEvent, AuditEvent.action == "inspection.submit") == 1


def test_replayed_inspection_returns_original(session, world, visit, now):
    key = new_uuid()
    first = _submit(session, world.inspector, key, values(world, visit, now=now), now)
    again = _submit(session, world.inspector, key, values(world, visit, now=now), now + timedelta(hours=1))
    assert (first.status, again.status) == ("created", "exists")
    assert again.inspection_id == first.inspection_id
    assert _count(session, Inspection) == 1
    assert _count(session, ItemResult) == len(checklist(visit))


def test_same_uuid_with_different_body_is_kept_as_conflict_once(session, world, visit, now):
    key = new_uuid()
    _submit(session, world.inspector, key, values(world, visit, now=now), now)
    changed = values(world, visit, now=now, notes="改过的备注")
    first = _submit(session, world.inspector, key, changed, now)
    second = _submit(session, world.inspector, key, changed, now)
    assert first.status == second.status == "conflict"
    assert first.error.code == "inspection.conflict"
    assert _count(session, InspectionConflict) == 1
    assert _count(session, AuditEvent, AuditEvent.action == "inspection.conflict") == 1
    assert session.scalars(select(Inspection.notes)).one() == "现场检查"


def test_joint_visit_needs_the_merged_checklist_of_every_served_round(session, world, visit, now):
    building = make_scene(session, world.departments[2:], category="restaurant", code="xiaofang", name="消防安全")
    joint_round = make_round(session, building, world.squad, [world.inspector, world.partner])
    visit.rounds = [world.round, joint_round]
    session.commit()
    own_items = {i.id for i in world.scene.versions[0].items}
    merged = checklist(visit)
    assert len(merged) == len(own_items) + len(building.versions[0].items)

    partial = values(world, visit, now=now)
    partial["results"] = [r for r in partial["results"] if r["item_id"] in own_items]
    with pytest.raises(ApiError) as err:
        _submit(session, world.inspector, new_uuid(), partial, now)
    assert "have no result" in err.value.details["results"]["_schema"][0]

    outcome = _submit(session, world.inspector, new_uuid(), values(world, visit, now=now), now)
    assert outcome.status == "created"
    assert _count(session, ItemResult, ItemResult.inspection_id == outcome.inspection_id) == len(merged)


def test_foreign_item_is_refused(session, world, visit, now):
    vals = values(world, visit, now=now)
    foreign = world.other_round.scene_version.items[0].id + 10_000
    vals["results"].append({"item_id": foreign, "result": "pass", "note": None, "photos": []})
    with pytest.raises(ApiError) as err:
        _submit(session, world.inspector, new_uuid(), vals, now)
    assert "not on this visit's checklist" in err.value.details["results"]["_schema"][0]


def test_failed_item_opens_rectification_with_deadline_by_severity(session, world, visit, now):
    items = checklist(visit)
    vals = values(world, visit, now=now, fail=(0, 1, 2))
    outcome = _submit(session, world.inspector, new_uuid(), vals, now)
    rects = {r.item_id: r for r in session.scalars(select(Rectification))}
    assert set(rects) == {items[0].id, items[1].id, items[2].id}
    days = {"high": 7, "medium": 15, "low": 30}
    for item in items[:3]:
        rect = rects[item.id]
        assert rect.deadline == vals["finished_at"] + timedelta(days=days[item.severity])
        assert rect.before_sha256 == sha(item.id)
        assert (rect.status, rect.target_id, rect.squad_id) == ("open", visit.target_id, world.squad.id)
        assert rect.inspection_id == outcome.inspection_id
    assert _count(session, AuditEvent, AuditEvent.action == "rectification.open") == 3


def test_refer_outcome_opens_no_rectification(session, world, visit, now):
    _submit(session, world.inspector, new_uuid(), values(world, visit, now=now, fail=(0,), outcome="refer"), now)
    assert _count(session, Rectification) == 0


def test_evidence_completes_when_the_photo_arrives_later(session, world, visit, now):
    outcome = _submit(session, world.inspector, new_uuid(), values(world, visit, now=now, fail=(0,)), now)
    stored = session.get(Inspection, outcome.inspection_id)
    assert stored.evidence_complete is False
    shas = [p.sha256 for p in stored.photos]
    assert len(shas) == 2
    for n, digest in enumerate(shas):
        with transaction() as s:
            s.add(Evidence(sha256=digest, size=10, format="jpeg", width=1, height=1, facts={},
                           uploaded_by_id=world.inspector.id, uploaded_at=now))
            s.flush()
            done = inspections.refresh_evidence_complete(s, digest)
        assert [i.id for i in done] == ([] if n == 0 else [outcome.inspection_id])
    assert session.get(Inspection, outcome.inspection_id).evidence_complete is True


def test_evidence_already_present_completes_the_record_at_once(session, world, visit, now):
    with transaction() as s:
        s.add(Evidence(sha256=sha(f"scene {visit.id}"), size=10, format="jpeg", width=1, height=1, facts={},
                       uploaded_by_id=world.inspector.id, uploaded_at=now))
    outcome = _submit(session, world.inspector, new_uuid(), values(world, visit, now=now), now)
    assert session.get(Inspection, outcome.inspection_id).evidence_complete is True


def test_correction_is_a_new_revision_and_supersedes_the_previous(session, world, visit, now):
    first_key, second_key = new_uuid(), new_uuid()
    first = _submit(session, world.inspector, first_key, values(world, visit, now=now, fail=(0,)), now)
    second = _submit(session, world.inspector, second_key,
                     values(world, visit, now=now, fail=(0,), supersedes=first_key, notes="更正"), now)
    assert second.status == "created"
    assert session.get(Inspection, second.inspection_id).revision == 2
    assert session.get(Inspection, second.inspection_id).supersedes_id == first.inspection_id
    assert session.get(Inspection, first.inspection_id).status == "superseded"
    # The finding's rectification follows the correction instead of being opened twice.
    assert [r.inspection_id for r in session.scalars(select(Rectification))] == [second.inspection_id]


def test_approved_revision_cannot_be_corrected(session, world, visit, now):
    first_key = new_uuid()
    first = _submit(session, world.inspector, first_key, values(world, visit, now=now), now)
    session.get(Inspection, first.inspection_id).status = "approved"
    session.commit()
    with pytest.raises(ApiError) as err:
        _submit(session, world.inspector, new_uuid(), values(world, visit, now=now, supersedes=first_key), now)
    assert err.value.code == "inspection.locked"


def test_cancelled_round_refuses_submission(session, world, visit, now):
    world.round.status = "cancelled"
    session.commit()
    with pytest.raises(ApiError) as err:
        _submit(session, world.inspector, new_uuid(), values(world, visit, now=now), now)
    assert err.value.code == "round.closed"


def test_skipped_visit_refuses_submission(session, world, visit, now):
    visit.status, visit.skip_reason = "skipped", "停业"
    session.commit()
    with pytest.raises(ApiError) as err:
        _submit(session, world.inspector, new_uuid(), values(world, visit, now=now), now)
    assert err.value.code == "inspection.visit_closed"


def test_inspector_cannot_submit_for_other_squads_visit(session, world, now):
    other_visit = visits_of(session, world.other_round)[0]
    vals = values(world, other_visit, now=now, inspectors=[world.inspector, world.partner])
    with pytest.raises(ApiError) as err:
        _submit(session, world.inspector, new_uuid(), vals, now)
    assert err.value.code == "not_found"


def test_squad_member_off_the_team_cannot_submit(session, world, visit, now):
    with pytest.raises(ApiError) as err:
        _submit(session, world.leader, new_uuid(), values(world, visit, now=now, inspectors=[world.leader, world.partner]),
                now)
    assert err.value.code == "forbidden"


def test_submitter_must_be_one_of_the_inspectors(session, world, visit, now):
    helper = make_user(session, ("inspector",), squad_id=world.squad.id)
    session.commit()
    with pytest.raises(ApiError) as err:
        _submit(session, world.inspector, new_uuid(), values(world, visit, now=now, inspectors=[world.partner, helper]),
                now)
    assert err.value.code == "forbidden"


@pytest.mark.parametrize("batch", [False, True], ids=["one", "batch"])
@pytest.mark.parametrize("same_uuid,expected", [(True, "exists"), (False, "conflict")])
def test_unique_constraints_arbitrate_a_lost_race(session, world, visit, now, same_uuid, expected, batch, caplog):
    """Two hosts decide on the same stale reads; the database's unique constraints pick the winner."""
    key = new_uuid()
    vals = values(world, visit, now=now)
    with transaction() as s:
        loser = inspections._Ingest(s, world.inspector, now=now)
        loser.immediate = not batch
        loser.load_stored([key])
        loser.prepare([vals])  # reads: no inspection yet, visit pending
        assert inspections.submit(s, world.inspector, key, vals, now=now).status == "created"  # the winner
        loser_key = key if same_uuid else new_uuid()
        with caplog.at_level(logging.INFO, logger="lianduinspect.sync"):
            outcome = loser.submit(loser_key, vals)
            if batch:
                assert outcome.status == "created"  # queued on stale reads
                loser.flush()
                outcome = loser.redone[loser_key]
    assert "lost a race" in caplog.text  # the insert hit a unique constraint, was rolled back, decided again
    assert outcome.status == expected
    assert _count(session, Inspection) == 1
    assert _count(session, ItemResult) == len(checklist(visit))


def test_rows_written_in_bulk_are_stored_as_sqlalchemy_stores_them(session, world, visit, now):
    """The sync path's driver-level inserts keep the column types' conversions: UTC times, JSON null, booleans."""
    cst = timezone(timedelta(hours=8))
    base = {"visit_id": visit.id, "supersedes_id": None, "status": "submitted", "submitted_by_id": world.inspector.id,
            "started_at": (now - timedelta(hours=1)).astimezone(cst), "finished_at": now.astimezone(cst),
            "lat": 28.45, "lon": None, "accuracy_m": 8, "outcome": "pass", "notes": "现场检查，经营正常",
            "late_reason": None, "signature_sha256": None, "body_digest": "a" * 64, "wire_digest": None,
            "received_at": now}
    cases = [{"flags": None, "evidence_complete": True}, {"flags": ["late_entry"], "evidence_complete": False}]
    # An audit event is written as its chain columns only; the database reads the others out of the body.
    body = canonical({"seq": 1001, "at": event_time(now.astimezone(cst)), "actor_id": None, "action": "inspection.submit",
                      "subject_type": "inspection", "subject_id": "x", "data": {"note": "后厨", "n": 1.5, "none": None}})
    event = {"prev_hash": "0" * 64, "body": body}
    with transaction() as s:
        for n, case in enumerate(cases):
            row = {**base, **case}
            s.execute(insert(Inspection.__table__), [{**row, "uuid": f"core-{n}", "revision": 2 * n + 1}])
            insert_rows(s, Inspection.__table__, ("uuid", "revision", *row), [(f"bulk-{n}", 2 * n + 2, *row.values())])
        s.execute(insert(AuditEvent.__table__), [{**event, "seq": 1001, "hash": "c" * 64}])
        insert_rows(s, AuditEvent.__table__, ("seq", "hash", *event), [(1002, "b" * 64, *event.values())])

    def stored(sql, **params):
        return tuple(session.execute(text(sql), params).one())

    columns = ", ".join(f"CAST({c} AS TEXT)" for c in (*base, "evidence_complete", "flags"))
    for n in range(len(cases)):
        core = stored(f"SELECT {columns}, flags IS NULL FROM inspections WHERE uuid = :u", u=f"core-{n}")
        assert stored(f"SELECT {columns}, flags IS NULL FROM inspections WHERE uuid = :u", u=f"bulk-{n}") == core
    columns = "CAST(at AS TEXT), actor_id, action, subject_type, subject_id, CAST(data AS TEXT), prev_hash, body"
    core = stored(f"SELECT {columns} FROM audit_events WHERE seq = 1001")
    assert stored(f"SELECT {columns} FROM audit_events WHERE seq = 1002") == core
    assert session.get(AuditEvent, 1002).at == now and session.get(AuditEvent, 1002).data["note"] == "后厨"


def test_sqlite_writer_queues_for_the_write_lock_then_gives_up_after_the_busy_timeout(app, session, monkeypatch):
    """A write transaction waits for another writer's lock by polling, and fails only after SQLITE_BUSY_MS."""
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("PostgreSQL writers do not share one lock")
    import sqlite3
    import threading
    import time

    from lianduinspect import db as db_module

    path = session.get_bind().url.database
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.2, lambda: other.execute("ROLLBACK"))
    release.start()
    started = time.monotonic()
    with transaction() as s:
        s.execute(text("SELECT 1"))
    assert 0.15 < time.monotonic() - started < 2  # waited for the lock, took it soon after it was free
    release.join()

    monkeypatch.setattr(db_module, "SQLITE_BUSY_MS", 300)
    other.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(Exception, match="locked"):
            with transaction() as s:
                s.execute(text("SELECT 1"))
        assert 0.25 < time.monotonic() - started < 2
    finally:
        other.execute("ROLLBACK")
        other.close()
    with transaction() as s:  # the connection's own busy_timeout is back for its other statements
        assert s.execute(text("PRAGMA busy_timeout")).scalar() == db_module.SQLITE_BUSY_MS
