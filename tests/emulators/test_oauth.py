"""The shared OAuth server, as each provider's dialect makes it speak: Google and the Microsoft identity platform."""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette

from emulators.google import create_google_emulator
from emulators.microsoft import create_microsoft_emulator
from emulators.microsoft_wire import MicrosoftOAuth
from emulators.oauth import OAuthServer, RefreshReply
from emulators.state import EmulatorState

ACCOUNT = "owner@example.test"
CLIENT_ID = "client"
CLIENT_SECRET = "secret"
REDIRECT_URI = "http://127.0.0.1:8000/callback"
VERIFIER = "v" * 64
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
PATHS = {
    "google": ("/o/oauth2/v2/auth", "/token"),
    "microsoft": ("/common/oauth2/v2.0/authorize", "/common/oauth2/v2.0/token"),
}


@dataclass
class Emulator:
    """One emulator app over ASGI, with the calls a client makes to its OAuth endpoints."""

    app: Starlette
    state: EmulatorState
    http: httpx.AsyncClient
    authorize_path: str
    token_path: str

    async def authorize(self, **changes: str | None) -> httpx.Response:
        params = {
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": "openid email calendar",
            "state": "st",
            "code_challenge": CHALLENGE,
            "code_challenge_method": "S256",
            "access_type": "offline",
            **changes,
        }
        return await self.http.get(self.authorize_path, params={k: v for k, v in params.items() if v is not None})

    async def code(self, **changes: str | None) -> str:
        response = await self.authorize(**changes)
        assert response.status_code == 302, response.text
        return query_of(response)["code"]

    async def token(self, **form: str) -> httpx.Response:
        return await self.http.post(
            self.token_path, data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **form}
        )

    async def redeem(self, code: str, verifier: str = VERIFIER) -> httpx.Response:
        return await self.token(
            grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier
        )

    async def refresh(self, refresh_token: str) -> httpx.Response:
        return await self.token(grant_type="refresh_token", refresh_token=refresh_token, scope="calendar")


def query_of(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    parts = urlsplit(response.headers["location"])
    return {key: values[0] for key, values in parse_qs(parts.query or parts.fragment).items()}


@asynccontextmanager
async def served(
    provider: str, build: Callable[[EmulatorState], Starlette] | None = None, **options: object
) -> AsyncIterator[Emulator]:
    """The provider's emulator app (or what `build` makes) over one seeded account, for an ASGI client."""
    state = EmulatorState("t")
    state.add_account(ACCOUNT, "Owner")
    if build is None:
        create = create_google_emulator if provider == "google" else create_microsoft_emulator
        app = create(state, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **options)
    else:
        app = build(state)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://emu") as http:
        yield Emulator(app, state, http, *PATHS[provider])


@pytest.fixture
async def google() -> AsyncIterator[Emulator]:
    async with served("google") as emulator:
        yield emulator


@pytest.fixture
async def microsoft() -> AsyncIterator[Emulator]:
    async with served("microsoft") as emulator:
        yield emulator


@pytest.fixture(params=["google", "microsoft"])
async def emulator(request: pytest.FixtureRequest) -> AsyncIterator[Emulator]:
    async with served(request.param) as emulator:
        yield emulator


# the protocol both speak ----------------------------------------------------------------------
async def test_a_code_with_its_pkce_verifier_buys_tokens_for_the_consenting_account(emulator: Emulator) -> None:
    # given
    code = await emulator.code()
    # when
    response = await emulator.redeem(code)
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert emulator.state.oauth.token_owner(body["access_token"]) == ACCOUNT


@pytest.mark.parametrize("verifier", ["w" * 64, ""])
async def test_a_wrong_or_missing_verifier_is_invalid_grant(emulator: Emulator, verifier: str) -> None:
    # given
    code = await emulator.code()
    # when
    response = await emulator.redeem(code, verifier)
    # then
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_a_code_is_redeemed_once(emulator: Emulator) -> None:
    # given
    code = await emulator.code()
    await emulator.redeem(code)
    # when
    again = await emulator.redeem(code)
    # then
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


async def test_a_plain_challenge_is_its_own_verifier(emulator: Emulator) -> None:
    # given
    code = await emulator.code(code_challenge=VERIFIER, code_challenge_method=None)
    # when
    response = await emulator.redeem(code)
    # then
    assert response.status_code == 200


async def test_revoked_grants_refuse_refresh_tokens_and_access_tokens(emulator: Emulator) -> None:
    # given
    tokens = (await emulator.redeem(await emulator.code())).json()
    emulator.state.faults.revoked = True
    # when
    response = await emulator.refresh(tokens["refresh_token"])
    # then
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert emulator.state.oauth.token_owner(tokens["access_token"]) is None


async def test_consent_denied_goes_back_to_the_client_with_access_denied_and_the_state(emulator: Emulator) -> None:
    # when
    query = query_of(await emulator.authorize(emulator_deny="1"))
    # then
    assert query["error"] == "access_denied" and query["state"] == "st" and "code" not in query


async def test_the_consenting_account_is_the_login_hint(emulator: Emulator) -> None:
    # given
    emulator.state.add_account("other@example.test", "Other")
    # when
    tokens = (await emulator.redeem(await emulator.code(login_hint="OTHER@example.test"))).json()
    # then
    assert emulator.state.oauth.token_owner(tokens["access_token"]) == "other@example.test"


@pytest.mark.parametrize("provider", ["google", "microsoft"])
async def test_registered_redirect_uris_are_the_only_ones_accepted(provider: str) -> None:
    async with served(provider, redirect_uris=[REDIRECT_URI]) as emulator:
        # when
        refused = await emulator.authorize(redirect_uri="https://evil.example/callback")
        accepted = await emulator.authorize()
        # then
        assert refused.status_code == 400 and "location" not in refused.headers
        assert accepted.status_code == 302


async def test_both_count_their_oauth_requests_alike(emulator: Emulator) -> None:
    # when
    await emulator.redeem(await emulator.code())
    # then
    calls = emulator.app.state.calls
    assert calls["oauth.authorize"] == 1 and calls["oauth.token"] == 1


# where Google and Microsoft differ on the wire -------------------------------------------------
async def test_google_shows_an_error_page_for_a_broken_request_where_microsoft_redirects(
    google: Emulator, microsoft: Emulator
) -> None:
    # when
    page = await google.authorize(response_type="token")
    redirect = await microsoft.authorize(response_type="token")
    # then
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert "invalid_request" in page.text
    query = query_of(redirect)
    assert query["error"] == "unsupported_response_type"
    assert query["error_description"].startswith("AADSTS700054")
    assert query["state"] == "st"


async def test_an_unknown_client_is_a_page_at_google_and_aadsts_json_at_microsoft(
    google: Emulator, microsoft: Emulator
) -> None:
    # when
    page = await google.authorize(client_id="stranger")
    body = await microsoft.authorize(client_id="stranger")
    # then
    assert page.status_code == 400 and "invalid_client" in page.text
    assert body.status_code == 400
    assert body.json()["error"] == "unauthorized_client" and body.json()["error_codes"] == [700016]


async def test_google_requires_a_scope_microsoft_does_not(google: Emulator, microsoft: Emulator) -> None:
    # when
    page = await google.authorize(scope=None)
    redirect = await microsoft.authorize(scope=None)
    # then
    assert page.status_code == 400 and "Missing required parameter: scope" in page.text
    assert "code" in query_of(redirect)


async def test_google_redirect_carries_scope_microsoft_a_session_state(google: Emulator, microsoft: Emulator) -> None:
    # when
    at_google = query_of(await google.authorize())
    at_microsoft = query_of(await microsoft.authorize())
    # then
    assert set(at_google) == {"code", "state", "scope", "authuser", "prompt"}
    assert set(at_microsoft) == {"code", "session_state", "state"}


async def test_only_microsoft_answers_in_the_fragment(google: Emulator, microsoft: Emulator) -> None:
    # when
    at_google = await google.authorize(response_mode="fragment")
    at_microsoft = await microsoft.authorize(response_mode="fragment")
    # then
    assert urlsplit(at_google.headers["location"]).query
    assert "code" in parse_qs(urlsplit(at_microsoft.headers["location"]).fragment)


async def test_google_issues_a_refresh_token_only_for_offline_access(google: Emulator) -> None:
    # when
    offline = (await google.redeem(await google.code())).json()
    online = (await google.redeem(await google.code(access_type=None))).json()
    # then
    assert offline["refresh_token"] and "refresh_token" not in online


async def test_microsoft_always_issues_a_refresh_token(microsoft: Emulator) -> None:
    # when
    body = (await microsoft.redeem(await microsoft.code(access_type=None))).json()
    # then
    assert body["refresh_token"] and body["ext_expires_in"] == body["expires_in"]


async def test_a_google_refresh_omits_the_refresh_token_and_is_not_cached(google: Emulator) -> None:
    # given
    tokens = (await google.redeem(await google.code())).json()
    # when
    response = await google.refresh(tokens["refresh_token"])
    # then
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert "refresh_token" not in body
    assert body["scope"] == "openid email https://www.googleapis.com/auth/calendar"
    assert (await google.refresh(tokens["refresh_token"])).status_code == 200


async def test_a_microsoft_refresh_echoes_the_refresh_token_and_the_asked_scope(microsoft: Emulator) -> None:
    # given
    tokens = (await microsoft.redeem(await microsoft.code())).json()
    # when
    response = await microsoft.refresh(tokens["refresh_token"])
    # then
    assert "cache-control" not in response.headers
    assert response.json()["refresh_token"] == tokens["refresh_token"]
    assert response.json()["scope"] == "calendar"


async def test_token_errors_are_each_providers_own_body(google: Emulator, microsoft: Emulator) -> None:
    # when
    at_google = await google.refresh("unknown")
    at_microsoft = await microsoft.refresh("unknown")
    # then
    assert at_google.json() == {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    body = at_microsoft.json()
    assert body["error"] == "invalid_grant" and body["error_codes"] == [70000]
    assert body["error_description"].startswith("AADSTS70000: ")
    assert set(body) == {"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id"}


async def test_a_missing_parameter_is_invalid_request_at_google_and_invalid_grant_at_microsoft(
    google: Emulator, microsoft: Emulator
) -> None:
    # when
    at_google = await google.token(grant_type="authorization_code", redirect_uri=REDIRECT_URI)
    at_microsoft = await microsoft.token(grant_type="authorization_code", redirect_uri=REDIRECT_URI)
    # then
    assert at_google.json()["error"] == "invalid_request"
    assert at_microsoft.json()["error"] == "invalid_grant"


async def test_a_wrong_client_secret_in_a_basic_header_is_invalid_client(emulator: Emulator) -> None:
    # when
    response = await emulator.http.post(
        emulator.token_path, data={"grant_type": "refresh_token", "refresh_token": "x"}, auth=(CLIENT_ID, "wrong")
    )
    # then
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


# a dialect is configuration --------------------------------------------------------------------
class RotatingMicrosoft(MicrosoftOAuth):
    refresh_reply = RefreshReply.ROTATE


async def test_a_dialect_may_rotate_refresh_tokens() -> None:
    # given
    def build(state: EmulatorState) -> Starlette:
        server = OAuthServer(state, RotatingMicrosoft(), Counter(), client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
        return Starlette(routes=server.routes())

    async with served("microsoft", build) as emulator:
        first = (await emulator.redeem(await emulator.code())).json()["refresh_token"]
        # when
        second = (await emulator.refresh(first)).json()["refresh_token"]
        # then
        assert second != first
        assert (await emulator.refresh(first)).json()["error"] == "invalid_grant"
        assert (await emulator.refresh(second)).status_code == 200
