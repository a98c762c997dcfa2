"""Users and API tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import Account, ApiToken, CalendarSettings, Hub, SeatTier, User
from meetgraph.context import Context
from meetgraph.crypto import hash_token, new_api_token
from scheduling import validation
from scheduling.errors import InvalidInput, PermissionRequired


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
    """Admin only. Creates the user (and an account unless joining one), its settings row and a token."""
    if not ctx.is_admin:
        raise PermissionRequired("createUser needs the admin token (MEETGRAPH_ADMIN_TOKEN)")
    async with ctx.db() as session:
        user, token = await insert_user(session=session, data=data, now=ctx.now())
        await session.commit()
    return user, token


async def insert_user(*, session: AsyncSession, data: NewUser, now: datetime) -> tuple[User, str]:
    email = validation.email(data.email)
    name = validation.text(data.name, "name", max_length=200)
    timezone = validation.timezone(data.timezone)
    created_at = validation.instant(data.created_at, "createdAt") if data.created_at is not None else None
    if created_at is not None and created_at > now:
        raise InvalidInput("createdAt must be a past time with a UTC offset", field="createdAt")
    if (await session.exec(select(User).where(User.email == email))).first():
        raise InvalidInput("a user with this email exists", field="email")
    if data.account_id is not None:
        account_id = validation.input_id(data.account_id, "accountId")
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
    token = new_api_token()
    session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), created_at=now))
    await session.flush()
    return user, token
