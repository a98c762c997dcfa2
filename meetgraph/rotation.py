"""`meetgraph rotate-secret`: re-encrypt every stored credential with the current MEETGRAPH_SECRET_KEY, so the
previous keys (MEETGRAPH_SECRET_KEY_PREVIOUS) can be removed. Batched, and idempotent: run it again at will."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import CalendarConnection
from meetgraph.crypto import CredentialCipher, UndecryptableCredentials

BATCH_SIZE = 200


@dataclass
class Rotation:
    re_encrypted: int = 0
    """Credentials a previous key had written, now under the current key."""
    already_current: int = 0
    changed_meanwhile: int = 0
    """Rows another process rewrote between our read and our write (a token refresh): run again."""
    undecryptable: list[uuid.UUID] = field(default_factory=list)
    """Connections no configured key decrypts; while there are any, nothing is written."""


async def _batches(
    sessionmaker: async_sessionmaker[AsyncSession], batch_size: int
) -> AsyncIterator[list[tuple[uuid.UUID, str]]]:
    """Every connection's (id, credentials), in id order, one short read transaction per batch."""
    after: uuid.UUID | None = None
    while True:
        query = select(CalendarConnection.id, CalendarConnection.credentials).order_by(col(CalendarConnection.id))
        if after is not None:
            query = query.where(col(CalendarConnection.id) > after)
        async with sessionmaker() as session:
            rows = [(row[0], row[1]) for row in (await session.exec(query.limit(batch_size))).all()]
        if not rows:
            return
        yield rows
        after = rows[-1][0]


async def rotate_credentials(
    sessionmaker: async_sessionmaker[AsyncSession], cipher: CredentialCipher, *, batch_size: int = BATCH_SIZE
) -> Rotation:
    """First check that every stored credential decrypts with a configured key (else write nothing and name
    the ones that do not), then re-encrypt those not under the current key, one transaction per batch."""
    checked = Rotation()
    async for rows in _batches(sessionmaker, batch_size):
        for connection_id, token in rows:
            if _unreadable(cipher, token):
                checked.undecryptable.append(connection_id)
    if checked.undecryptable:
        return checked
    done = Rotation()
    async for rows in _batches(sessionmaker, batch_size):
        stale = [(connection_id, token) for connection_id, token in rows if not cipher.is_current(token)]
        done.already_current += len(rows) - len(stale)
        if not stale:
            continue
        async with sessionmaker() as session:
            for connection_id, token in stale:
                written = await session.exec(  # type: ignore[call-overload]
                    update(CalendarConnection)
                    .where(col(CalendarConnection.id) == connection_id, col(CalendarConnection.credentials) == token)
                    .values(credentials=cipher.rotate(token))
                )
                if written.rowcount == 1:
                    done.re_encrypted += 1
                else:
                    done.changed_meanwhile += 1
            await session.commit()
    return done


async def check_keys(
    sessionmaker: async_sessionmaker[AsyncSession], cipher: CredentialCipher, *, sample: int = 100
) -> int:
    """How many of the most recently connected credentials no configured key decrypts (a wrong or missing key
    is told at startup in one clear line, not as a traceback per request)."""
    query = select(CalendarConnection.credentials).order_by(col(CalendarConnection.created_at).desc())
    async with sessionmaker() as session:
        tokens = (await session.exec(query.limit(sample))).all()
    return sum(1 for token in tokens if _unreadable(cipher, token))


def _unreadable(cipher: CredentialCipher, token: str) -> bool:
    """Whether no configured key decrypts the stored credentials (those under the current key are readable)."""
    if cipher.is_current(token):
        return False
    try:
        cipher.decrypt(token)
    except UndecryptableCredentials:
        return True
    return False
