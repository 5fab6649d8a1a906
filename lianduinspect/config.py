"""Layered configuration: defaults here, then LIANDUINSPECT_* environment variables, then test config.

This is the only module that reads the environment.
"""
from __future__ import annotations

import json
import os

PREFIX = "LIANDUINSPECT_"


class Defaults:
    """Settings a fresh install runs with; every one can be overridden by LIANDUINSPECT_<NAME>."""

    SECRET_KEY = None  # generated into instance/secret_key when absent
    DATABASE_URL = None  # None: embedded SQLite at instance/lianduinspect.sqlite3
    STORAGE_URL = None  # None: local content-addressed directory at instance/evidence
    S3_ENDPOINT_URL = None
    SIGNING_KEY_PATH = None  # Ed25519 key for audit checkpoints; None: instance/audit_ed25519.pem
    SESSION_HOURS = 12  # server-side session lifetime since last use
    SESSION_COOKIE_NAME = "li_session"
    SESSION_COOKIE_SECURE = False  # set true behind HTTPS
    LOGIN_MAX_FAILURES = 5  # per account, then locked for LOGIN_LOCK_MINUTES
    LOGIN_LOCK_MINUTES = 15
    MAX_JSON_BYTES = 2 * 1024 * 1024
    MAX_EVIDENCE_BYTES = 30 * 1024 * 1024
    MAX_IMPORT_BYTES = 10 * 1024 * 1024
    PAGE_SIZE = 50
    PAGE_SIZE_MAX = 500
    SCHEDULER_ENABLED = False  # `make run` turns it on; production runs `flask scheduler run`
    PHOTO_TIME_TOLERANCE_MIN = 30
    PHOTO_DISTANCE_M = 500
    PHASH_MAX_DISTANCE = 8
    LATE_ENTRY_DAYS = 3
    PUBLIC_RATE_PER_MINUTE = 30
    PROXY_HOPS = 0  # reverse proxies in front of the app; >0 trusts that many X-Forwarded-For/-Proto hops


def _coerce(default, raw: str):
    """Turn an environment string into the type of its default."""
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, (list, dict)):
        return json.loads(raw)
    return raw


def from_environment(environ=None) -> dict:
    """Return the defaults overlaid with LIANDUINSPECT_* variables."""
    environ = os.environ if environ is None else environ
    settings = {}
    for name in dir(Defaults):
        if not name.isupper():
            continue
        default = getattr(Defaults, name)
        raw = environ.get(PREFIX + name)
        settings[name] = default if raw is None else _coerce(default, raw)
    return settings


def test_database_url(environ=None) -> str | None:
    """Return the PostgreSQL URL the test suite should also run against, if any."""
    environ = os.environ if environ is None else environ
    return environ.get(PREFIX + "TEST_DATABASE_URL") or None
