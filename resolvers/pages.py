"""Scheduling pages: their URLs and state (free slots are in resolvers/availability.py)."""

from __future__ import annotations

from dataclasses import dataclass

from db.models import SchedulingPage
from meetgraph.context import Context
from resolvers import settings as settings_resolvers


@dataclass(frozen=True)
class PageState:
    active: bool
    """The owner has not deactivated their scheduling pages."""
    offline: bool
    """No calendar is used for the pages: bookings become REQUESTED meetings."""


async def page_url(ctx: Context, page: SchedulingPage) -> str:
    settings = await settings_resolvers.settings_for(ctx, page.user_id)
    base = ctx.services.settings.public_url.rstrip("/")
    if settings.meeting_domain_id is not None:
        domain = await ctx.loaders.domain_by_id.load(settings.meeting_domain_id)
        if domain is not None:
            base = f"https://{domain.hostname}"
    return f"{base}/meetings/{page.slug}"


async def page_state(ctx: Context, page: SchedulingPage) -> PageState:
    settings = await settings_resolvers.settings_for(ctx, page.user_id)
    connections = await ctx.loaders.connections_by_user.load(page.user_id)
    offline = not connections or not settings.scheduling_pages_enabled
    return PageState(active=settings.pages_active, offline=offline)

