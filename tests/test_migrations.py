"""Migrations build exactly the schema the models describe, on every database the suite runs."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lianduinspect.db import db


def test_migrated_schema_matches_models(app):
    with app.app_context():
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_audit_table_refuses_update_and_delete(app, session, now):
    from lianduinspect.db import transaction
    from lianduinspect.services import audit

    with app.test_request_context():
        with transaction() as s:
            audit.record(s, None, "test.event", "test", 1, {"k": "v"}, now=now)
    for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(sa.exc.DatabaseError):
            with db.engine.begin() as conn:
                conn.exec_driver_sql(statement)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT action FROM audit_events").scalar_one() == "test.event"


def test_conflicts_kept_before_0002_get_their_visit_and_survive_a_round_trip(app, session):
    """Upgrading a database holding kept conflicts keeps them and finds their visit; downgrading drops only
    the new columns."""
    from flask_migrate import downgrade, upgrade

    from .factories import make_world
    from .factories_review import make_inspection, visits_of

    session.commit()
    downgrade(revision="0001")
    try:
        world = make_world(session)
        visit = visits_of(session, world.round)[0]
        stored = make_inspection(session, visit, [world.inspector, world.partner])
        session.commit()
        insert = ("INSERT INTO inspection_conflicts (uuid, body, body_digest, submitted_by_id, received_at) "
                  "VALUES (:uuid, :body, :digest, :user, :at)")
        for uuid, digest in ((stored.uuid, "a" * 64), ("00000000-0000-4000-8000-000000000000", "b" * 64)):
            session.execute(sa.text(insert), {"uuid": uuid, "body": '{"notes": "kept"}', "digest": digest,
                                              "user": world.inspector.id, "at": stored.received_at})
        session.commit()
        upgrade()
        rows = session.execute(sa.text("SELECT body_digest, visit_id, reason, resolved_at FROM inspection_conflicts "
                                       "ORDER BY body_digest")).all()
        # The one under a stored record's UUID gets that record's visit; an orphan keeps none.
        assert [tuple(r) for r in rows] == [("a" * 64, visit.id, None, None), ("b" * 64, None, None, None)]
        session.commit()  # PostgreSQL's ALTER TABLE waits for every open transaction on the table
        downgrade(revision="0001")
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("inspection_conflicts")}
        assert columns == {"id", "uuid", "body", "body_digest", "submitted_by_id", "received_at"}
        assert session.execute(sa.text("SELECT count(*) FROM inspection_conflicts")).scalar_one() == 2
    finally:
        session.rollback()
        upgrade()  # the next test on this database expects the head
