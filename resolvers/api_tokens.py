"""A user's API tokens: listed, created (the token is shown once) and revoked (deleted: it stops working at once)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import ApiToken
from meetgraph.context import Context
from meetgraph.crypto import hash_token, new_api_token
from resolvers.ids import owned
from scheduling import validation
from scheduling.errors import InvalidInput

NAME_MAX_LENGTH = 100
INITIAL_NAME = "initial"
"""The name of the token createUser (and `meetgraph create-user`) makes with the user, and only they: a user's one
token named so and never used is that token, which createUser asked again may replace (resolvers.users)."""


async def tokens_of(ctx: Context, user_id: uuid.UUID) -> list[ApiToken]:
    """The user's tokens, oldest first."""
    async with ctx.db() as session:
        rows = await session.exec(
            select(ApiToken).where(ApiToken.user_id == user_id).order_by(col(ApiToken.created_at), col(ApiToken.id))
        )
        return list(rows.all())


async def create_token(ctx: Context, name: str) -> tuple[ApiToken, str]:
    """A new token for the caller; returns the row and the token itself, which is stored only as its hash."""
    user = ctx.require_user()
    cleaned = validation.text(name, "name", max_length=NAME_MAX_LENGTH)
    if cleaned.casefold() == INITIAL_NAME:
        raise InvalidInput(f'"{INITIAL_NAME}" is the name of the token createUser makes', field="name")
    async with ctx.db() as session:
        row, token = add_token(session=session, user_id=user.id, name=cleaned, now=ctx.now())
        await session.commit()
    return row, token


def add_token(*, session: AsyncSession, user_id: uuid.UUID, name: str, now: datetime) -> tuple[ApiToken, str]:
    """Adds a token row to the session's transaction; returns it with the token (never stored)."""
    token = new_api_token()
    row = ApiToken(user_id=user_id, token_hash=hash_token(token), name=name, created_at=now)
    session.add(row)
    return row, token


async def revoke_token(ctx: Context, token_id: str) -> uuid.UUID:
    """Deletes one of the caller's tokens (the one in use too); another user's token is simply not found."""
    user = ctx.require_user()
    async with ctx.db() as session:
        row = await owned(session, ApiToken, token_id, "API token", user_id=user.id)
        await session.delete(row)
        await session.commit()
    return row.id
