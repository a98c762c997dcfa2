"""Scheduling pages as stored: their URLs, their state and their slot rules (free slots: resolvers/availability.py)."""

from __future__ import annotations

from db.models import SchedulingPage
from meetgraph.context import Context
from resolvers import settings as settings_resolvers
from scheduling import booking_rules, slots
from scheduling.booking_rules import PageState


async def page_url(ctx: Context, page: SchedulingPage) -> str:
    settings = await settings_resolvers.settings_for(ctx, page.user_id)
    base = ctx.services.settings.public_url.rstrip("/")
    if settings.meeting_domain_id is not None:
        domain = await ctx.loaders.domain_by_id.load(settings.meeting_domain_id)
        if domain is not None and domain.verified_at is not None:
            base = f"https://{domain.hostname}"
    return f"{base}/meetings/{page.slug}"


async def page_state(ctx: Context, page: SchedulingPage) -> PageState:
    settings = await settings_resolvers.settings_for(ctx, page.user_id)
    connections = await ctx.loaders.connections_by_user.load(page.user_id)
    return booking_rules.page_state(
        pages_active=settings.pages_active,
        scheduling_pages_enabled=settings.scheduling_pages_enabled,
        has_connection=bool(connections),
    )


def slot_rules(page: SchedulingPage) -> slots.SlotRules:
    """A stored page as the slot computation's rules."""
    return booking_rules.slot_rules(
        weekly_hours=page.weekly_hours,
        timezone=page.timezone,
        duration_minutes=page.duration_minutes,
        buffer_minutes=page.buffer_minutes,
        minimum_notice_minutes=page.minimum_notice_minutes,
    )
