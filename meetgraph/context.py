"""The one typed per-request context: services, caller, database session and dataloaders."""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from graphql import GraphQLError
from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from db.engine import begin_write
from db.models import ApiToken, User
from meetgraph.crypto import hash_token
from meetgraph.services import Services
from resolvers.loaders import Loaders

log = logging.getLogger("meetgraph")

LAST_USED_PRECISION = timedelta(minutes=5)
"""How stale an API token's `lastUsedAt` may be: authentication writes it only when it is older than this."""

CLOSE_GRACE_SECONDS = 10.0
"""How long closing a request's session waits for a database block its operation left running."""


class NotAuthenticated(GraphQLError):
    def __init__(self) -> None:
        super().__init__(
            "Authentication required: send `Authorization: Bearer <token>`.",
            extensions={"code": "UNAUTHENTICATED"},
        )


def bearer_token(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


@dataclass
class Context:
    services: Services
    request: Request | WebSocket | None = None
    response: Response | WebSocket | None = None
    user: User | None = None
    is_admin: bool = False
    connection_params: dict[str, Any] | None = None
    loaders: Loaders = field(init=False)
    write_mode: bool = False
    """Set for mutations: their transactions start as writers (see db.engine.begin_write)."""
    close_grace_seconds: float = CLOSE_GRACE_SECONDS
    arrived: float = field(default_factory=time.monotonic)
    """When the operation began (time.monotonic()): a shared live read that landed after it may answer it, however
    long it queued before asking (resolvers.availability)."""
    _session: AsyncSession | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _closed: bool = False
    _holder: asyncio.Task[Any] | None = None
    _authorization: str | None = None

    def __post_init__(self) -> None:
        self.renew_loaders()

    def renew_loaders(self) -> None:
        """A fresh set of dataloaders (after a mutation, so its payload reads what was just written)."""
        self.loaders = Loaders(self.db)

    async def for_operation(self) -> Context:
        """The context one operation runs with. An HTTP request's is its own; a WebSocket connection's is
        shared by all its operations, so each gets a copy with a session and dataloaders of its own, and the
        connection's token checked again (the caller's row read afresh; a revoked token leaves it anonymous)."""
        if not isinstance(self.request, WebSocket):
            return self
        operation = dataclasses.replace(
            self,
            write_mode=False,
            arrived=time.monotonic(),
            _session=None,
            _lock=asyncio.Lock(),
            _closed=False,
            _holder=None,
        )
        await operation.authenticate_again()
        return operation

    def now(self) -> datetime:
        return self.services.clock()

    @property
    def closed(self) -> bool:
        return self._closed

    @asynccontextmanager
    async def db(self) -> AsyncIterator[AsyncSession]:
        """The request's session, one user at a time (resolvers run concurrently).

        Each block is one transaction: it is committed when the block ends (rolled back on an exception).
        After `close` (a resolver the operation left behind), a block gets a session of its own, closed
        when the block ends, so nothing reopens the request's session with nobody left to close it.
        """
        async with self._lock:
            self._holder = asyncio.current_task()
            try:
                if self._closed:
                    async with self.services.sessionmaker() as own:
                        async with self._transaction(own):
                            yield own
                else:
                    if self._session is None:
                        self._session = self.services.sessionmaker()
                    async with self._transaction(self._session):
                        yield self._session
            finally:
                self._holder = None

    @asynccontextmanager
    async def _transaction(self, session: AsyncSession) -> AsyncIterator[None]:
        if self.write_mode:
            await begin_write(session)
        try:
            yield
        except BaseException:
            await session.rollback()
            raise
        if session.in_transaction():
            # each block is one transaction: never hold a (write) lock across a provider call
            await session.commit()

    async def close(self) -> None:
        """Close the request's session once no block uses it; never raises (it runs after the result is made).

        graphql-core leaves a failed field's siblings running when the error ends the operation, so a
        block may still hold the session: wait for it, and cancel it after `close_grace_seconds`.
        """
        self._closed = True
        try:
            if not await self._acquire_within(self.close_grace_seconds):
                holder = self._holder
                if holder is not None:
                    log.warning(
                        "cancelling a database block still running %.1fs after its operation", self.close_grace_seconds
                    )
                    holder.cancel()
                if not await self._acquire_within(self.close_grace_seconds):
                    log.error("a cancelled database block did not end: its session is left to the pool")
                    return
            try:
                if self._session is not None:
                    await self._session.close()
            finally:
                self._session = None
                self._lock.release()
        except Exception:
            log.exception("closing the request's database session failed")

    async def _acquire_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._lock.acquire(), seconds)
        except TimeoutError:
            return False
        return True

    def require_user(self) -> User:
        if self.user is None:
            raise NotAuthenticated()
        return self.user

    async def authenticate(self, authorization: str | None) -> None:
        """Resolve `Bearer <token>` to the admin or a user; unknown (or revoked) tokens leave the caller anonymous.

        Nothing is cached: every call reads the token's row, so a revoked token stops working at once.
        The token's `last_used_at` is written only when it is older than LAST_USED_PRECISION, by one
        conditional UPDATE (concurrent requests write it once), so requests do not each cost a write.
        """
        token = bearer_token(authorization)
        self._authorization = authorization
        admin = self.services.settings.admin_token
        if token is not None and admin and hmac.compare_digest(token.encode(), admin.encode()):
            self.user, self.is_admin = None, True
            return
        found = await self._user_of(token) if token is not None else None
        # assigned at once: a WebSocket's other operations read the caller while this one re-checks it
        self.user, self.is_admin = found, False

    async def _user_of(self, token: str) -> User | None:
        """The token's user; refreshes the token's `last_used_at` when it is older than LAST_USED_PRECISION."""
        now = self.now()
        stale_before = now - LAST_USED_PRECISION
        async with self.services.sessionmaker() as session:
            found = (
                await session.exec(
                    select(User, ApiToken).join(ApiToken).where(ApiToken.token_hash == hash_token(token))
                )
            ).first()
            session.expunge_all()  # the caller keeps the rows, detached with what was read
            await session.rollback()  # end the read: SQLite must not upgrade a read snapshot to a writer
            if found is None:
                return None
            user, api_token = found
            if api_token.last_used_at is None or api_token.last_used_at < stale_before:
                await begin_write(session)
                await session.execute(
                    update(ApiToken)
                    .where(
                        col(ApiToken.id) == api_token.id,
                        or_(col(ApiToken.last_used_at).is_(None), col(ApiToken.last_used_at) < stale_before),
                    )
                    .values(last_used_at=now)
                )
                await session.commit()
        return user

    async def authenticate_again(self) -> None:
        """Check the credentials the context was authenticated with once more (a WebSocket's operations).

        A WebSocket authenticates once, at connection_init; each of its operations calls this first, and a
        subscription before each event it delivers, so a revoked token ends the connection's access.
        """
        if self.user is not None:
            await self.authenticate(self._authorization)
