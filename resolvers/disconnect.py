"""Disconnecting a calendar account (a legacy two-account user forfeits the second account)."""

from __future__ import annotations

import uuid

from sqlmodel import select

from db.models import CalendarConnection, CalendarSettings, User
from meetgraph.context import Context
from resolvers.ids import parse_id
from scheduling import connection_rules, settings_rules
from scheduling.errors import NotFound


async def disconnect_calendar(ctx: Context, connection_id: str) -> uuid.UUID:
    user = ctx.require_user()
    key = parse_id(connection_id, "calendar connection")
    async with ctx.db() as session:
        connection = await session.get(CalendarConnection, key)
        if connection is None or connection.user_id != user.id:
            raise NotFound("calendar connection not found")
        held = (await session.exec(select(CalendarConnection.id).where(CalendarConnection.user_id == user.id))).all()
        owner = await session.get(User, user.id)
        assert owner is not None
        if connection_rules.forfeits_legacy_dual(len(held)):
            owner.legacy_dual_forfeited = True
            session.add(owner)
        remaining = [c for c in held if c != key]
        await session.delete(connection)
        if not remaining:
            settings = await session.get(CalendarSettings, user.id)
            if settings is not None:
                for name, value in settings_rules.after_last_disconnect().items():
                    setattr(settings, name, value)
                session.add(settings)
        await session.commit()
    return key
