"""The CLI run in-process configures logging for a process (meetgraph.logs.configure): undo it after each test.

Left in place, the root logger would keep a handler on pytest's captured stderr, closed once the test ends,
and every later test's background threads (SMTP server, aiosqlite) would print "--- Logging error ---".
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from meetgraph.logs import QUIET_LIBRARIES, UVICORN_LOGGERS


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    named = {name: logging.getLogger(name) for name in (*UVICORN_LOGGERS, *QUIET_LIBRARIES)}
    saved = {name: (logger.handlers[:], logger.propagate, logger.level) for name, logger in named.items()}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, (kept, propagate, own_level) in saved.items():
        named[name].handlers[:] = kept
        named[name].propagate = propagate
        named[name].setLevel(own_level)
