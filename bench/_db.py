"""The database a bench script measures on: a migrated app on a URL, or a schema of its own in PostgreSQL.

Every script runs as `python bench/<script>.py`, so this folder is on its import path.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager


def bench_app(url: str, folder: str, *, secret: str = "bench", storage: str | None = None):
    """Return the app on ``url``, its evidence and signing key kept in ``folder``."""
    from lianduinspect import create_app

    return create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": secret,
                       "STORAGE_URL": storage or folder, "SIGNING_KEY_PATH": os.path.join(folder, "key.pem")})


class PostgresSchema:
    """A schema of the bench's own in the given PostgreSQL database, dropped when done."""

    def __init__(self, base_url: str, label: str):
        import sqlalchemy as sa

        self.name = f"li_bench_{label}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.admin = sa.create_engine(base_url)
        sep = "&" if "?" in base_url else "?"
        self.url = f"{base_url}{sep}options=-csearch_path%3D{self.name}"

    def reset(self) -> str:
        """Drop and create the schema afresh; return the URL that uses it."""
        with self.admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')
            conn.exec_driver_sql(f'CREATE SCHEMA "{self.name}"')
        return self.url

    def drop(self) -> None:
        with self.admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')
        self.admin.dispose()


@contextmanager
def postgres_schema(base_url: str, label: str) -> Iterator[str]:
    """Yield a URL using a fresh schema of the bench's own; drop the schema afterwards, whatever happens."""
    schema = PostgresSchema(base_url, label)
    try:
        yield schema.reset()
    finally:
        schema.drop()
