"""availableSlotsChanged: a public page's free slots in a window, sent at once and again whenever they change.

The page is found and the window checked exactly as for availableSlots; the slots then come from the process's
shared feed for that page and window (meetgraph.availability_events.SlotFeeds), so a change costs one
computation however many visitors watch the page.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from graphql import GraphQLError

from db.models import SchedulingPage
from meetgraph.availability_events import Answer
from meetgraph.context import Context
from meetgraph.services import Services
from resolvers.availability import check_window, slots_for_page
from resolvers.pages import slot_rules
from resolvers.public_pages import find_page
from scheduling.slots import Slot

RESOLUTION = timedelta(microseconds=1)
"""The clock's step: a slot starting at `start` is gone from `start - notice + RESOLUTION` on."""


class PageNotFound(GraphQLError):
    """No page has this slug on this domain (availableSlots' `schedulingPage` is null for the same arguments)."""

    def __init__(self) -> None:
        super().__init__(
            "no scheduling page has this slug on this domain",
            extensions={"code": "BAD_USER_INPUT", "argument": "slug"},
        )


async def follow(
    ctx: Context, slug: str, domain: str | None, start: datetime, end: datetime
) -> AsyncIterator[list[Slot]]:
    page = await find_page(ctx, slug, domain)
    if page is None:
        raise PageNotFound()
    start, end = check_window(start, end)
    services = ctx.services
    page_id, owner_id = page.id, page.user_id

    async def compute() -> Answer:
        return await _current_slots(services, page_id, start, end)

    async for slots in services.slot_feeds.follow(services, (page_id, start, end), owner_id, compute):
        yield slots


async def _current_slots(services: Services, page_id: uuid.UUID, start: datetime, end: datetime) -> Answer:
    """The page's slots as stored now (its settings may have changed since the subscription began), in a
    context of its own: the feed outlives the subscriber that created it."""
    ctx = Context(services=services)
    try:
        async with ctx.db() as session:
            page = await session.get(SchedulingPage, page_id)
        if page is None:
            return Answer([])
        slots = await slots_for_page(ctx, page, start, end)
    finally:
        await ctx.close()
    return Answer(slots, due=expiry(slots, slot_rules(page).minimum_notice))


def expiry(slots: list[Slot], minimum_notice: timedelta) -> datetime | None:
    """The first instant the earliest slot is no longer offered: a slot is offered while start >= now + notice."""
    if not slots:
        return None
    return slots[0].start - minimum_notice + RESOLUTION
