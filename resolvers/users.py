"""Users, created with their first API token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import Account, ApiToken, CalendarSettings, Hub, SeatTier, User
from meetgraph.context import Context
from resolvers import api_tokens
from scheduling import validation
from scheduling.errors import InvalidInput, PermissionRequired

RETRY_WINDOW = timedelta(hours=1)
"""How long createUser, asked again with the same input, may replace the new user's token while it is unused
(the first answer was lost). A user who made any request has used it, and is never answered again."""


@dataclass(frozen=True)
class NewUser:
    email: str
    name: str
    account_id: str | None = None
    personal_email_access: bool = True
    hub: Hub = Hub.NONE
    tier: SeatTier = SeatTier.FREE
    paid_seat: bool = False
    timezone: str = "UTC"
    created_at: datetime | None = None


async def create_user(ctx: Context, data: NewUser) -> tuple[User, str]:
    """Admin only. Creates the user (and an account unless joining one), its settings row and a token.

    Asked again for a user it made whose token was never used (the answer was lost: a dropped connection,
    a failure after the commit), it answers that user with a new token in place of the unused one.
    """
    if not ctx.is_admin:
        raise PermissionRequired("createUser needs the admin token (MEETGRAPH_ADMIN_TOKEN)")
    async with ctx.db() as session:
        user, token = await insert_user(session=session, data=data, now=ctx.now())
        await session.commit()
    return user, token


async def insert_user(*, session: AsyncSession, data: NewUser, now: datetime) -> tuple[User, str]:
    """Adds the user, its settings and its "initial" token; the same creation again renews an unused token."""
    email = validation.email(data.email)
    name = validation.text(data.name, "name", max_length=200)
    timezone = validation.timezone(data.timezone)
    created_at = validation.instant(data.created_at, "createdAt") if data.created_at is not None else None
    if created_at is not None and created_at > now:
        raise InvalidInput("createdAt must be a past time with a UTC offset", field="createdAt")
    account_id = validation.input_id(data.account_id, "accountId") if data.account_id is not None else None
    existing = (await session.exec(select(User).where(User.email == email))).first()
    if existing is not None:
        again = replace(data, name=name, timezone=timezone)
        return await _created_again(session=session, user=existing, data=again, account_id=account_id, now=now)
    if account_id is not None:
        if await session.get(Account, account_id) is None:
            raise InvalidInput("accountId does not name an account", field="accountId")
    else:
        account = Account(created_at=now)
        session.add(account)
        await session.flush()  # no ORM relationships: parents are flushed before their children
        account_id = account.id
    user = User(
        account_id=account_id,
        email=email,
        name=name,
        timezone=timezone,
        personal_email_access=data.personal_email_access,
        hub=data.hub,
        tier=data.tier,
        paid_seat=data.paid_seat,
        created_at=created_at or now,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise InvalidInput("a user with this email exists", field="email") from None
    session.add(CalendarSettings(user_id=user.id))
    _, token = api_tokens.add_token(session=session, user_id=user.id, name=api_tokens.INITIAL_NAME, now=now)
    await session.flush()
    return user, token


async def _created_again(
    *, session: AsyncSession, user: User, data: NewUser, account_id: uuid.UUID | None, now: datetime
) -> tuple[User, str]:
    """The same creation asked again within RETRY_WINDOW, while the user's one token is the unused "initial"
    one: the first answer was lost, so that token is replaced by a new one. Otherwise the email is taken."""
    same = (
        (data.name, data.timezone, data.personal_email_access, data.hub, data.tier, data.paid_seat)
        == (user.name, user.timezone, user.personal_email_access, user.hub, user.tier, user.paid_seat)
        and account_id in (None, user.account_id)
        and data.created_at in (None, user.created_at)
    )
    tokens = (await session.exec(select(ApiToken).where(ApiToken.user_id == user.id))).all()
    lost = [
        t
        for t in tokens
        if t.name == api_tokens.INITIAL_NAME and t.last_used_at is None and t.created_at > now - RETRY_WINDOW
    ]
    if not same or len(tokens) != 1 or len(lost) != 1:
        raise InvalidInput("a user with this email exists", field="email")
    await session.delete(lost[0])
    _, token = api_tokens.add_token(session=session, user_id=user.id, name=api_tokens.INITIAL_NAME, now=now)
    await session.flush()
    return user, token
