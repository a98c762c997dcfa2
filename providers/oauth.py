"""One OAuth 2.0 token lifecycle for Google and Microsoft: authorize, exchange, refresh, revoke."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import authlib.deprecate  # noqa: F401  (installs its "always" filter before ours below)
from authlib.common.security import generate_token

with warnings.catch_warnings():
    # authlib 1.9 prefers the httpx2 fork and warns when it falls back to httpx, which works the same.
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

from providers.base import ProviderAuthError, ProviderUnavailable

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class OAuthClientConfig:
    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    authorize_params: Mapping[str, str] = field(default_factory=dict)
    use_pkce: bool = True


@dataclass(frozen=True)
class OAuthToken:
    access_token: str
    refresh_token: str | None
    expires_at: datetime
    scope: str = ""
    token_type: str = "Bearer"

    def expires_within(self, leeway: timedelta, now: datetime) -> bool:
        return self.expires_at - leeway <= now

    def to_dict(self) -> dict[str, str | None]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at.isoformat(),
            "scope": self.scope,
            "token_type": self.token_type,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> OAuthToken:
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]) if data.get("refresh_token") else None,
            expires_at=datetime.fromisoformat(str(data["expires_at"])),
            scope=str(data.get("scope") or ""),
            token_type=str(data.get("token_type") or "Bearer"),
        )

    @classmethod
    def from_response(
        cls, body: Mapping[str, object], now: datetime, previous_refresh: str | None = None
    ) -> OAuthToken:
        """Build from a token endpoint answer; a refresh answer may omit the refresh token."""
        expires_in = int(str(body.get("expires_in") or 3600))
        refresh = body.get("refresh_token") or previous_refresh
        return cls(
            access_token=str(body["access_token"]),
            refresh_token=str(refresh) if refresh else None,
            expires_at=now + timedelta(seconds=expires_in),
            scope=str(body.get("scope") or ""),
            token_type=str(body.get("token_type") or "Bearer"),
        )


def new_code_verifier() -> str:
    """A PKCE code verifier (RFC 7636: 43-128 unreserved characters)."""
    return generate_token(64)


def _client(config: OAuthClientConfig, redirect_uri: str | None = None) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=config.client_id,
        client_secret=config.client_secret,
        scope=" ".join(config.scopes),
        redirect_uri=redirect_uri,
        code_challenge_method="S256" if config.use_pkce else None,
        token_endpoint_auth_method="client_secret_post",
        timeout=15.0,
    )


def authorization_url(config: OAuthClientConfig, *, redirect_uri: str, state: str, code_verifier: str | None) -> str:
    client = _client(config, redirect_uri)
    url, _ = client.create_authorization_url(
        config.authorize_url,
        state=state,
        code_verifier=code_verifier if config.use_pkce else None,
        **dict(config.authorize_params),
    )
    return str(url)


async def exchange_code(
    config: OAuthClientConfig,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str | None,
    now: datetime,
) -> OAuthToken:
    """Trade an authorization code for tokens; a refused exchange raises ProviderAuthError."""
    async with _client(config, redirect_uri) as client:
        try:
            body = await client.fetch_token(
                config.token_url,
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier if config.use_pkce else None,
            )
        except OAuthError as exc:
            raise ProviderAuthError(f"token exchange refused: {exc.error}") from exc
        except Exception as exc:  # transport failures and non-JSON answers
            raise ProviderUnavailable(f"token endpoint unreachable: {type(exc).__name__}") from exc
    return OAuthToken.from_response(body, now)


class TokenStore(Protocol):
    """Where a connection's token lives (encrypted in the database)."""

    async def load(self) -> OAuthToken: ...

    async def save(self, token: OAuthToken) -> None: ...

    async def mark_inactive(self) -> None: ...


class RefreshLocks:
    """One asyncio.Lock per connection, so concurrent requests in this process refresh once."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    def get(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())


class TokenManager:
    """Hands out a valid access token: refreshes before expiry, persists it, revokes on invalid_grant."""

    def __init__(
        self,
        config: OAuthClientConfig,
        store: TokenStore,
        token: OAuthToken,
        *,
        lock: asyncio.Lock,
        clock: Clock = utcnow,
        leeway: timedelta = timedelta(seconds=60),
    ) -> None:
        self.config = config
        self.store = store
        self.token = token
        self.lock = lock
        self.clock = clock
        self.leeway = leeway

    async def access_token(self) -> str:
        if not self.token.expires_within(self.leeway, self.clock()):
            return self.token.access_token
        async with self.lock:
            latest = await self.store.load()
            if not latest.expires_within(self.leeway, self.clock()):
                self.token = latest
            else:
                await self._refresh(latest)
        return self.token.access_token

    async def refresh_after_rejection(self, rejected_access_token: str) -> str:
        """The API refused a token early (401): refresh once unless another caller already did."""
        async with self.lock:
            latest = await self.store.load()
            if latest.access_token != rejected_access_token:
                self.token = latest
            else:
                await self._refresh(latest)
        return self.token.access_token

    async def _refresh(self, current: OAuthToken) -> None:
        if not current.refresh_token:
            await self.store.mark_inactive()
            raise ProviderAuthError("the connection has no refresh token; reconnect the calendar")
        async with _client(self.config) as client:
            try:
                body = await client.refresh_token(self.config.token_url, refresh_token=current.refresh_token)
            except OAuthError as exc:
                if exc.error == "invalid_grant":
                    await self.store.mark_inactive()
                    raise ProviderAuthError("calendar access was revoked; reconnect the calendar") from exc
                raise ProviderAuthError(f"token refresh refused: {exc.error}") from exc
            except Exception as exc:
                raise ProviderUnavailable(f"token endpoint unreachable: {type(exc).__name__}") from exc
        self.token = OAuthToken.from_response(body, self.clock(), current.refresh_token)
        await self.store.save(self.token)


class MemoryTokenStore:
    """A token store that only lives in memory (a connection not yet saved, tests)."""

    def __init__(self, token: OAuthToken) -> None:
        self.token = token
        self.inactive = False
        self.saves = 0

    async def load(self) -> OAuthToken:
        return self.token

    async def save(self, token: OAuthToken) -> None:
        self.token = token
        self.saves += 1

    async def mark_inactive(self) -> None:
        self.inactive = True
