"""One meaning of free/busy for every provider, as Microsoft's merged free/busy view defines it.

Free and working elsewhere leave the time free; tentative, busy and out of office block it. A status the rule does
not know (Exchange's NoData, a future value) blocks: offering a time that may be taken is the worse mistake.
Statuses compare case-insensitively (Graph writes `workingElsewhere`, EWS `WorkingElsewhere`, some servers `OOF`).
"""

from __future__ import annotations

FREE_STATUSES = frozenset({"free", "workingelsewhere"})
"""Statuses that do not block time (lower case)."""
BLOCKING_STATUSES = frozenset({"tentative", "busy", "oof"})
"""Statuses known to block time (lower case); anything else blocks too."""


def blocks_time(status: str | None) -> bool:
    """Whether an event shown with this free/busy status makes its time unavailable; None (no status) blocks."""
    if status is None:
        return True
    return status.strip().lower() not in FREE_STATUSES
