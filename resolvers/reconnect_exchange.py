"""reconnectExchangeCalendar: the owner re-enters the password of an Exchange connection (typically after the
server refused the stored one); checked at the stored EWS URL before anything is written."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import update
from sqlmodel import col

from db.models import Calendar, CalendarConnection, ConnectionStatus
from meetgraph import sync
from meetgraph.context import Context
from resolvers.connect_exchange import verify
from resolvers.ids import owned
from scheduling import connection_rules, validation
from scheduling.calendars import ProviderKind
from scheduling.errors import NotFound

WHAT = "Exchange calendar connection"


async def reconnect_exchange(
    ctx: Context, connection_id: str, password: str, username: str | None
) -> CalendarConnection:
    """Sign in with the new password (and username, when given; else the stored one) at the stored EWS URL; only
    then store the credentials and make the connection and its calendars ACTIVE again. A refused sign-in writes
    nothing (ProviderFailure, as connecting answers)."""
    from providers.exchange import ExchangeCredentials

    user = ctx.require_user()
    connection_rules.check_permission(user.personal_email_access)
    async with ctx.db() as session:
        connection = await owned(session, CalendarConnection, connection_id, WHAT, user_id=user.id)
    if connection.provider != ProviderKind.EXCHANGE.value:
        raise NotFound(f"{WHAT} not found")
    connection_rules.check_exchange_password(password)
    username = validation.text(username, "username", max_length=254) if username else None
    stored = ExchangeCredentials.from_dict(ctx.services.cipher.decrypt(connection.credentials))
    resolved, _ = await verify(ctx, replace(stored, password=password, username=username or stored.username))
    async with ctx.db() as session:
        row = await session.get(CalendarConnection, connection.id)
        if row is None:  # disconnected meanwhile
            raise NotFound(f"{WHAT} not found")
        row.credentials = ctx.services.cipher.encrypt(resolved.to_dict())
        row.status = ConnectionStatus.ACTIVE
        row.inactive_reason = None
        session.add(row)
        await session.execute(
            update(Calendar).where(col(Calendar.connection_id) == row.id).values(status=ConnectionStatus.ACTIVE)
        )
        await sync.enqueue_connection_syncs(session, row.id, now=ctx.services.clock())
    ctx.services.jobs.kick()
    return row
