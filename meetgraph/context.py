"""The one typed per-request context: services, caller, database session and dataloaders."""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from graphql import GraphQLError
from sqlmodel import select
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
    _session: AsyncSession | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _closed: bool = False
    _holder: asyncio.Task[Any] | None = None

    def __post_init__(self) -> None:
        self.renew_loaders()

    def renew_loaders(self) -> None:
        """A fresh set of dataloaders (after a mutation, so its payload reads what was just written)."""
        self.loaders = Loaders(self.db)

    async def for_operation(self) -> Context:
        """The context one operation runs with. An HTTP request's is its own; a WebSocket connection's is
        shared by all its operations, so each gets a copy with a session and dataloaders of its own and the
        caller's row read again: only the connection's authentication is kept."""
        if not isinstance(self.request, WebSocket):
            return self
        operation = dataclasses.replace(
            self, write_mode=False, _session=None, _lock=asyncio.Lock(), _closed=False, _holder=None
        )
        if self.user is not None:
            async with self.services.sessionmaker() as session:
                operation.user = await session.get(User, self.user.id)
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
        """Resolve `Bearer <token>` to the admin or a user; unknown tokens leave the caller anonymous."""
        token = bearer_token(authorization)
        self.user, self.is_admin = None, False
        if token is None:
            return
        admin = self.services.settings.admin_token
        if admin and hmac.compare_digest(token.encode(), admin.encode()):
            self.is_admin = True
            return
        async with self.services.sessionmaker() as session:
            self.user = (
                await session.exec(select(User).join(ApiToken).where(ApiToken.token_hash == hash_token(token)))
            ).first()
