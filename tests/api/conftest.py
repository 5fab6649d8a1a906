"""Fixtures shared by the API tests."""
from __future__ import annotations

import pytest


@pytest.fixture
def fixed_clock(app, now):
    """Pin the app's clock to the test's ``now`` (a module opts in with ``usefixtures``)."""
    app.config["FIXED_NOW"] = now
