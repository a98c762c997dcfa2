"""Crash points for tests: `failpoint(name)` SIGKILLs this process when MEETGRAPH_FAILPOINTS names it.

A test facility, like etcd's gofail: the crash tests (tests/processes/) start `meetgraph serve` with e.g.
`MEETGRAPH_FAILPOINTS=booking.after_commit`, book, and check that a restart on the same database leaves every
committed change with its effects exactly once. Unset (always, outside those tests) a failpoint costs one set
lookup. The names are read once, when this module is imported.
"""

from __future__ import annotations

import os
import signal

ENV = "MEETGRAPH_FAILPOINTS"

BOOKING_BEFORE_COMMIT = "booking.before_commit"
"""The booking's meeting, attempt, write job and idempotency key are flushed, not committed."""
BOOKING_AFTER_COMMIT = "booking.after_commit"
"""The booking is committed; its calendar write has not started (before `run_now`)."""
CALENDAR_WRITE_AFTER_PROVIDER = "calendar_write.after_provider"
"""The provider created the meeting's event and answered; its id is not stored yet."""
SYNC_BEFORE_COMMIT = "sync.before_commit"
"""A calendar sync fetched its batch and wrote the store, meetings and cursor, not committed."""

_ARMED = frozenset(name.strip() for name in os.environ.get(ENV, "").split(",") if name.strip())


def failpoint(name: str) -> None:
    """Die here, at once and without clean-up (SIGKILL), when the failpoint `name` is armed."""
    if name in _ARMED:
        os.write(2, f"failpoint {name}: SIGKILL\n".encode())
        os.kill(os.getpid(), signal.SIGKILL)
