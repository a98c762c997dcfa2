"""Disconnecting a calendar account (a legacy two-account user forfeits the second account)."""

from __future__ import annotations

import uuid

from sqlmodel import select

from db.models import CalendarConnection, CalendarSettings, User
from meetgraph import sync
from meetgraph.availability_events import availability_changed
from meetgraph.context import Context
from resolvers.ids import owned
from scheduling import connection_rules, settings_rules


async def disconnect_calendar(ctx: Context, connection_id: str) -> uuid.UUID:
    user = ctx.require_user()
    async with ctx.db() as session:
        connection = await owned(session, CalendarConnection, connection_id, "calendar connection", user_id=user.id)
        key = connection.id
        held = (await session.exec(select(CalendarConnection.id).where(CalendarConnection.user_id == user.id))).all()
        owner = await session.get(User, user.id)
        assert owner is not None
        if connection_rules.forfeits_legacy_dual(len(held)):
            owner.legacy_dual_forfeited = True
            session.add(owner)
        remaining = [c for c in held if c != key]
        await sync.stop_connection_sync(session, ctx.services, connection)
        await session.delete(connection)
        if not remaining:
            settings = await session.get(CalendarSettings, user.id)
            if settings is not None:
                for name, value in settings_rules.after_last_disconnect().items():
                    setattr(settings, name, value)
                session.add(settings)
        await session.commit()
    await availability_changed(ctx.services, user.id)
    return key
