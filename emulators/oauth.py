"""One OAuth 2.0 authorization server for the Google and Microsoft emulators, and its bookkeeping.

Both providers run the same protocol (RFC 6749 authorization code grant with PKCE, RFC 7636, and the
refresh token grant):

- the authorization endpoint checks the client and its redirect URI, then plays the consent screen: it
  approves as `login_hint` (or the first account), `emulator_deny=1` plays the user pressing Cancel; it
  redirects back to the client with `code` and `state`, or with an `error`;
- the token endpoint authenticates the client, redeems a code once (bound to client, redirect URI and the
  PKCE challenge, S256 or plain) or a refresh token, and answers tokens or the provider's error.

Everything that differs on the wire between Google and the Microsoft identity platform is an
`OAuthDialect` the server is given: paths, which malformed requests are refused how (Google's HTML error
page, the identity platform's AADSTS JSON, or an error redirect), error bodies, client authentication,
the redirect's parameters, when a refresh token is issued, what a refresh answers about the refresh token,
token lifetimes and headers.

`OAuthBook` keeps codes, access and refresh tokens. Each EmulatorState has one (`state.oauth`): API
handlers check bearer tokens against it and tests mint tokens with it without the browser dance. Revoking
every grant is a fault (`state.faults.revoked`): refresh tokens then answer invalid_grant and access tokens
are refused.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import secrets
import threading
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar, NamedTuple
from urllib.parse import unquote, urlencode

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from emulators.state import EmulatorState, Faults

CODE_LIFETIME = timedelta(minutes=10)
ACCESS_TOKEN_LIFETIME = timedelta(hours=1)


# bookkeeping -----------------------------------------------------------------------------------------
@dataclass
class Grant:
    """What an authorization code stands for until it is redeemed (once)."""

    email: str
    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: datetime
    offline: bool = True
    """Whether redeeming the code also issues a refresh token."""


class IssuedTokens(NamedTuple):
    access_token: str
    refresh_token: str | None
    expires_in: int
    """Seconds the access token lives."""


class OAuthBook:
    """Authorization codes, access tokens (with their expiry) and refresh tokens of one emulated provider."""

    def __init__(self, faults: Faults, clock: Callable[[], datetime]) -> None:
        self.faults = faults
        self.clock = clock
        self.lock = threading.RLock()
        self.codes: dict[str, Grant] = {}
        self.access_tokens: dict[str, tuple[str, datetime]] = {}
        """access token -> (account email, expiry)"""
        self.refresh_tokens: dict[str, str] = {}
        """refresh token -> account email"""
        self.token_lifetime = ACCESS_TOKEN_LIFETIME

    def issue_code(
        self,
        email: str,
        *,
        client_id: str,
        redirect_uri: str,
        scope: str,
        code_challenge: str | None,
        code_challenge_method: str | None,
        offline: bool = True,
    ) -> str:
        with self.lock:
            code = secrets.token_urlsafe(24)
            self.codes[code] = Grant(
                email=email.lower(),
                client_id=client_id,
                redirect_uri=redirect_uri,
                scope=scope,
                code_challenge=code_challenge,
                code_challenge_method=code_challenge_method,
                expires_at=self.clock() + CODE_LIFETIME,
                offline=offline,
            )
            return code

    def redeem_code(self, code: str, *, client_id: str, redirect_uri: str, code_verifier: str | None) -> Grant | None:
        """The grant behind a code, once; None when unknown, reused, expired or the PKCE check fails."""
        with self.lock:
            grant = self.codes.pop(code, None)
        if grant is None or grant.expires_at < self.clock():
            return None
        if grant.client_id != client_id or grant.redirect_uri != redirect_uri:
            return None
        if grant.code_challenge:
            if not code_verifier:
                return None
            if grant.code_challenge_method == "S256":
                digest = hashlib.sha256(code_verifier.encode()).digest()
                expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            else:
                expected = code_verifier
            if expected != grant.code_challenge:
                return None
        return grant

    def issue_tokens(self, email: str, *, with_refresh: bool = True, lifetime: timedelta | None = None) -> IssuedTokens:
        """A new access token (and refresh token) for the account, as if it had just consented."""
        lifetime = lifetime or self.token_lifetime
        with self.lock:
            access = secrets.token_urlsafe(32)
            self.access_tokens[access] = (email.lower(), self.clock() + lifetime)
            refresh = None
            if with_refresh:
                refresh = secrets.token_urlsafe(32)
                self.refresh_tokens[refresh] = email.lower()
            return IssuedTokens(access, refresh, int(lifetime.total_seconds()))

    def refresh(
        self, refresh_token: str, *, rotate: bool = False, lifetime: timedelta | None = None
    ) -> IssuedTokens | None:
        """A new access token for a refresh token, or None when unknown or revoked (invalid_grant).

        With `rotate`, also a new refresh token, and the presented one stops working; otherwise the answer's
        refresh_token is None (the client keeps the one it has).
        """
        if self.faults.revoked:
            return None
        with self.lock:
            email = self.refresh_tokens.get(refresh_token)
            if email is None:
                return None
            if rotate:
                del self.refresh_tokens[refresh_token]
            return self.issue_tokens(email, with_refresh=rotate, lifetime=lifetime)

    def token_owner(self, access_token: str) -> str | None:
        """The account an access token belongs to, or None when unknown, expired or revoked."""
        if self.faults.revoked:
            return None
        found = self.access_tokens.get(access_token)
        if found is None or found[1] <= self.clock():
            return None
        return found[0]

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is expired (the provider expired them early)."""
        with self.lock:
            self.access_tokens = {
                token: (email, self.clock() - timedelta(seconds=1)) for token, (email, _) in self.access_tokens.items()
            }


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None when absent, empty or another scheme."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


# client authentication (RFC 6749 section 2.3.1) -------------------------------------------------------
def basic_or_post_credentials(request: Request, form: Mapping[str, str]) -> tuple[str, str]:
    """client_secret_basic (id and secret form-encoded in the Authorization header), else client_secret_post.

    A header that does not decode names no client.
    """
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic" and encoded:
        try:
            decoded = base64.b64decode(encoded.strip()).decode()
        except (ValueError, binascii.Error):
            return "", ""
        client_id, _, secret = decoded.partition(":")
        return unquote(client_id), unquote(secret)
    return form.get("client_id", ""), form.get("client_secret", "")


def post_or_basic_credentials(request: Request, form: Mapping[str, str]) -> tuple[str, str]:
    """client_secret_post, replaced by an Authorization: Basic header when there is one, taken verbatim.

    A header that does not decode fails the request (500), as this emulator always has.
    """
    client_id = form.get("client_id", "")
    client_secret = form.get("client_secret", "")
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        decoded = base64.b64decode(header[6:]).decode()
        client_id, _, client_secret = decoded.partition(":")
    return client_id, client_secret


# dialects --------------------------------------------------------------------------------------------
class AuthorizeRefusal(enum.Enum):
    """Why the authorization endpoint does not issue a code (once client and redirect URI are known good)."""

    RESPONSE_TYPE = "response_type is not 'code'"
    SCOPE = "no scope (where one is required)"
    CODE_CHALLENGE = "a code_challenge_method without a code_challenge"
    CHALLENGE_METHOD = "a code_challenge with an unknown method"
    CONSENT_DENIED = "the user pressed Cancel"
    UNKNOWN_USER = "login_hint names no account"


class TokenRefusal(enum.Enum):
    """Why the token endpoint issues no token."""

    NO_CLIENT = "no client id"
    UNKNOWN_CLIENT = "another client id than the registered one"
    CLIENT_SECRET = "a wrong client secret"
    CODE = "an unknown, reused or expired code, or a failed PKCE / client / redirect URI check"
    REFRESH_TOKEN = "an unknown or revoked refresh token"
    GRANT_TYPE = "an unsupported (or missing) grant_type"


class RefreshReply(enum.Enum):
    """What a refresh_token grant answers about the refresh token itself."""

    OMIT = "omit"
    """No refresh_token in the answer: the client keeps the one it has (Google)."""
    SAME = "same"
    """The presented refresh token, echoed back."""
    ROTATE = "rotate"
    """A new refresh token; the presented one stops working."""


@dataclass(frozen=True)
class ClientRedirect:
    """Sends the browser back to the client's redirect URI with parameters, and `state` unless already placed."""

    uri: str
    state: str | None
    fragment: bool = False
    """Parameters in the fragment (response_mode=fragment) instead of the query."""

    def __call__(self, params: Mapping[str, str | None]) -> RedirectResponse:
        full = dict(params)
        full.setdefault("state", self.state)
        query = urlencode({key: value for key, value in full.items() if value is not None})
        separator = "#" if self.fragment else ("&" if "?" in self.uri else "?")
        return RedirectResponse(f"{self.uri}{separator}{query}", status_code=302)


class OAuthDialect(ABC):
    """How one provider's authorization server speaks: configuration and rendering hooks for OAuthServer."""

    authorize_path: ClassVar[str]
    token_path: ClassVar[str]
    requires_scope: ClassVar[bool] = False
    """Refuse an authorization request without scope (the scope is then trimmed), else pass it through."""
    challenge_methods: ClassVar[frozenset[str | None]] = frozenset({None, "plain", "S256"})
    """code_challenge_method values accepted with a code_challenge (None: absent, meaning plain)."""
    fragment_response_mode: ClassVar[bool] = False
    """Honour response_mode=fragment."""
    access_token_lifetime: ClassVar[timedelta] = ACCESS_TOKEN_LIFETIME
    refresh_reply: ClassVar[RefreshReply] = RefreshReply.OMIT
    refresh_scope: ClassVar[str | None] = None
    """The scope a refresh answers; None: the request's `scope` parameter."""
    token_headers: ClassVar[Mapping[str, str]] = {}
    """Headers on a successful token answer."""

    @abstractmethod
    def redirect_uri_allowed(self, uri: str) -> bool:
        """Whether a redirect URI is acceptable when the emulator was given no registered URIs."""

    @abstractmethod
    def issues_refresh_token(self, query: QueryParams) -> bool:
        """Whether the code an authorization request yields also brings a refresh token."""

    @abstractmethod
    def client_credentials(self, request: Request, form: Mapping[str, str]) -> tuple[str, str]:
        """(client id, client secret) of a token request."""

    @abstractmethod
    def refuse_client(self, client_id: str) -> Response:
        """The authorization endpoint's answer to a missing or unknown client id (no redirect: it is not trusted)."""

    @abstractmethod
    def refuse_redirect_uri(self, redirect_uri: str) -> Response:
        """The authorization endpoint's answer to a missing or unregistered redirect URI (no redirect either)."""

    @abstractmethod
    def refuse_authorization(self, refusal: AuthorizeRefusal, query: QueryParams, back: ClientRedirect) -> Response:
        """The answer to an authorization request refused for `refusal` (an error page, or `back(...)`)."""

    @abstractmethod
    def granted(self, code: str, scope: str, query: QueryParams) -> dict[str, str | None]:
        """The parameters of the redirect that carries a code (`state` is appended unless placed)."""

    @abstractmethod
    def missing_parameter(self, name: str) -> Response | None:
        """The token endpoint's answer to a missing `grant_type`, `code` or `refresh_token`; None: go on with ''."""

    @abstractmethod
    def refuse_token(self, refusal: TokenRefusal, value: str | None) -> Response:
        """The token endpoint's error; `value` is the client id, code, refresh token or grant type concerned."""

    @abstractmethod
    def token_body(self, tokens: IssuedTokens, scope: str) -> dict[str, object]:
        """A successful token answer (refresh_token only when `tokens` has one)."""


# the server ------------------------------------------------------------------------------------------
class OAuthServer:
    """The authorization and token endpoints of one emulated provider, over its EmulatorState."""

    def __init__(
        self,
        state: EmulatorState,
        dialect: OAuthDialect,
        calls: Counter[str],
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uris: Collection[str] | None = None,
    ) -> None:
        """Client id, secret and registered redirect URIs are only checked when given."""
        self.state = state
        self.dialect = dialect
        self.calls = calls
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = frozenset(redirect_uris) if redirect_uris is not None else None

    def routes(self) -> list[Route]:
        return [
            Route(self.dialect.authorize_path, self.authorize, methods=["GET"]),
            Route(self.dialect.token_path, self.token, methods=["POST"]),
        ]

    @property
    def book(self) -> OAuthBook:
        return self.state.oauth

    def redirect_allowed(self, redirect_uri: str) -> bool:
        if self.redirect_uris is not None:
            return redirect_uri in self.redirect_uris
        return self.dialect.redirect_uri_allowed(redirect_uri)

    # authorization endpoint --------------------------------------------------------------------------
    async def authorize(self, request: Request) -> Response:
        self.calls["oauth.authorize"] += 1
        dialect = self.dialect
        query = request.query_params
        client_id = query.get("client_id", "")
        if not client_id or (self.client_id is not None and client_id != self.client_id):
            return dialect.refuse_client(client_id)
        redirect_uri = query.get("redirect_uri", "")
        if not self.redirect_allowed(redirect_uri):
            return dialect.refuse_redirect_uri(redirect_uri)
        back = ClientRedirect(
            redirect_uri,
            query.get("state"),
            fragment=dialect.fragment_response_mode and query.get("response_mode") == "fragment",
        )

        def refuse(refusal: AuthorizeRefusal) -> Response:
            return dialect.refuse_authorization(refusal, query, back)

        if query.get("response_type") != "code":
            return refuse(AuthorizeRefusal.RESPONSE_TYPE)
        scope = query.get("scope", "")
        if dialect.requires_scope:
            scope = scope.strip()
            if not scope:
                return refuse(AuthorizeRefusal.SCOPE)
        challenge = query.get("code_challenge")
        method = query.get("code_challenge_method")
        if method and not challenge:
            return refuse(AuthorizeRefusal.CODE_CHALLENGE)
        if challenge and method not in dialect.challenge_methods:
            return refuse(AuthorizeRefusal.CHALLENGE_METHOD)
        if query.get("emulator_deny") == "1":
            return refuse(AuthorizeRefusal.CONSENT_DENIED)
        hint = query.get("login_hint")
        account = self.state.account(hint) if hint else next(iter(self.state.accounts.values()), None)
        if account is None:
            return refuse(AuthorizeRefusal.UNKNOWN_USER)
        code = self.book.issue_code(
            account.email,
            client_id=client_id,
            redirect_uri=redirect_uri,
            scope=scope,
            code_challenge=challenge,
            code_challenge_method=(method or "plain") if challenge else None,
            offline=dialect.issues_refresh_token(query),
        )
        return back(dialect.granted(code, scope, query))

    # token endpoint ----------------------------------------------------------------------------------
    async def token(self, request: Request) -> Response:
        self.calls["oauth.token"] += 1
        dialect = self.dialect
        form = {key: str(value) for key, value in (await request.form()).items()}
        client_id, secret = dialect.client_credentials(request, form)
        if not client_id:
            return dialect.refuse_token(TokenRefusal.NO_CLIENT, client_id)
        if self.client_id is not None and client_id != self.client_id:
            return dialect.refuse_token(TokenRefusal.UNKNOWN_CLIENT, client_id)
        if self.client_secret is not None and secret != self.client_secret:
            return dialect.refuse_token(TokenRefusal.CLIENT_SECRET, client_id)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self.redeem(form, client_id)
        if grant_type == "refresh_token":
            return self.refresh(form)
        if not grant_type and (missing := dialect.missing_parameter("grant_type")) is not None:
            return missing
        return dialect.refuse_token(TokenRefusal.GRANT_TYPE, grant_type)

    def redeem(self, form: Mapping[str, str], client_id: str) -> Response:
        code = form.get("code", "")
        if not code and (missing := self.dialect.missing_parameter("code")) is not None:
            return missing
        grant = self.book.redeem_code(
            code,
            client_id=client_id,
            redirect_uri=form.get("redirect_uri", ""),
            code_verifier=form.get("code_verifier") or None,
        )
        if grant is None:
            return self.dialect.refuse_token(TokenRefusal.CODE, code)
        tokens = self.book.issue_tokens(
            grant.email, with_refresh=grant.offline, lifetime=self.dialect.access_token_lifetime
        )
        return self.answer(tokens, grant.scope)

    def refresh(self, form: Mapping[str, str]) -> Response:
        dialect = self.dialect
        refresh_token = form.get("refresh_token", "")
        if not refresh_token and (missing := dialect.missing_parameter("refresh_token")) is not None:
            return missing
        tokens = self.book.refresh(
            refresh_token,
            rotate=dialect.refresh_reply is RefreshReply.ROTATE,
            lifetime=dialect.access_token_lifetime,
        )
        if tokens is None:
            return dialect.refuse_token(TokenRefusal.REFRESH_TOKEN, refresh_token)
        if dialect.refresh_reply is RefreshReply.SAME:
            tokens = tokens._replace(refresh_token=refresh_token)
        scope = dialect.refresh_scope if dialect.refresh_scope is not None else form.get("scope", "")
        return self.answer(tokens, scope)

    def answer(self, tokens: IssuedTokens, scope: str) -> JSONResponse:
        return JSONResponse(self.dialect.token_body(tokens, scope), headers=dict(self.dialect.token_headers))
