"""The one typed per-request context: services, caller, database session and dataloaders."""

from __future__ import annotations

import asyncio
import hmac
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
    _session: AsyncSession | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.renew_loaders()

    def renew_loaders(self) -> None:
        """A fresh set of dataloaders (after a mutation, so its payload reads what was just written)."""
        self.loaders = Loaders(self.db)

    def now(self) -> datetime:
        return self.services.clock()

    @asynccontextmanager
    async def db(self) -> AsyncIterator[AsyncSession]:
        """The request's session, one user at a time (resolvers run concurrently).

        Each block is one transaction: it is committed when the block ends (rolled back on an exception).
        """
        async with self._lock:
            if self._session is None:
                self._session = self.services.sessionmaker()
            if self.write_mode:
                await begin_write(self._session)
            try:
                yield self._session
            except BaseException:
                await self._session.rollback()
                raise
            if self._session.in_transaction():
                # each block is one transaction: never hold a (write) lock across a provider call
                await self._session.commit()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

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
