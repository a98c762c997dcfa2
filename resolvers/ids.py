"""Public ids are UUID strings; a malformed id of the object an operation acts on is simply not found."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from scheduling.errors import NotFound

Row = TypeVar("Row")


def parse_id(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"{what} not found") from None


async def owned(session: AsyncSession, model: type[Row], value: str, what: str, **owner: uuid.UUID) -> Row:
    """The row with the public id `value` when it belongs to the caller (`user_id=...` or `account_id=...`).

    Another owner's row answers exactly like a missing one, so ids of other accounts reveal nothing.
    """
    row: Any = await session.get(model, parse_id(value, what))
    if row is None or any(getattr(row, column) != expected for column, expected in owner.items()):
        raise NotFound(f"{what} not found")
    return row  # type: ignore[no-any-return]
