"""Email inboxes: a personal inbox comes with its calendar and may be disconnected alone; shared inboxes."""

from __future__ import annotations

import uuid

from db.models import EmailInbox
from meetgraph.context import Context
from resolvers.connection_store import inbox_at
from resolvers.ids import owned
from scheduling import connection_rules, validation
from scheduling.errors import InvalidInput


async def disconnect_inbox(ctx: Context, inbox_id: str) -> uuid.UUID:
    """Disconnect a personal inbox; its calendar stays connected."""
    user = ctx.require_user()
    async with ctx.db() as session:
        inbox = await owned(session, EmailInbox, inbox_id, "email inbox", user_id=user.id)
        await session.delete(inbox)
        await session.commit()
    return inbox.id


async def connect_shared_inbox(ctx: Context, address: str) -> EmailInbox:
    """Connect a team address as a shared inbox of the account (such addresses can't be calendars)."""
    user = ctx.require_user()
    connection_rules.check_permission(user.personal_email_access)
    email = validation.email(address, "address")
    async with ctx.db() as session:
        if await inbox_at(session, user.account_id, email) is not None:
            raise InvalidInput(f"{email} is already connected", field="address")
        inbox = EmailInbox(
            account_id=user.account_id, user_id=user.id, address=email, shared=True, created_at=ctx.now()
        )
        session.add(inbox)
        await session.commit()
    return inbox
