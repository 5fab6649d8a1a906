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
