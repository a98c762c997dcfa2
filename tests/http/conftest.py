"""HTTP transport tests: what the server answers does not depend on the database, so SQLite only."""

from __future__ import annotations

import pytest


@pytest.fixture
def backend() -> str:
    return "sqlite"
