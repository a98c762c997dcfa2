"""The "a user's availability may have changed" signal: one broadcast channel per owner, published after every change that
can alter their free slots (a booking or cancellation, a synced calendar change, a settings or page change) and
listened to by availableSlotsChanged subscriptions."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meetgraph.services import Services

log = logging.getLogger("meetgraph.availability")


def channel_for(user_id: uuid.UUID) -> str:
    return f"availability:{user_id}"


async def availability_changed(services: Services, user_id: uuid.UUID) -> None:
    """Tell every process's subscribers of the owner's pages to recompute. Never raises: a lost message costs a
    subscriber one stale answer until the next change, never the change itself."""
    try:
        await services.broadcast.publish(channel_for(user_id), "changed")
    except Exception:  # the broadcast backend is down: the change itself stands
        log.warning("could not publish an availability change for user %s", user_id, exc_info=True)
