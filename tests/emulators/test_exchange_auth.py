"""The Exchange emulator logs in as IIS in front of on-prem Exchange does: NTLM per connection (Basic only where
configured), and Active Directory's lockout, refused with the same plain 401 as a wrong password."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import requests
from exchangelib.transport import BASIC, NTLM
from requests_ntlm import HttpNtlmAuth

from emulators.control import with_control
from emulators.exchange import create_exchange_emulator
from emulators.runner import serve_in_thread
from emulators.state import EmulatedAccount, EmulatorState
from providers.base import ProviderAuthError
from providers.exchange import ExchangeCredentials, connect_exchange
from providers.http import RetryPolicy
from providers.outbound import OutboundPolicy
from tests.providers.harness import RecordedSleeps
from tests.utils.clock import FakeClock

OWNER = "owner@exchange.test"
FROBNICATE = (
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
    '<m:Frobnicate xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"/></s:Body></s:Envelope>'
)
"""An EWS request that gets past authentication only to be answered ErrorInvalidRequest (HTTP 500)."""


@dataclass
class Server:
    state: EmulatorState
    account: EmulatedAccount
    clock: FakeClock
    base_url: str

    @property
    def ews_url(self) -> str:
        return f"{self.base_url}/EWS/Exchange.asmx"

    def post(self, auth: requests.auth.AuthBase | tuple[str, str] | None = None) -> requests.Response:
        """One request on a new connection (a new session)."""
        with requests.Session() as session:
            session.auth = auth
            return session.post(self.ews_url, data=FROBNICATE, timeout=10)

    async def connect(self, password: str) -> None:
        credentials = ExchangeCredentials(OWNER, password, ews_url=self.ews_url)
        policy = RetryPolicy(attempts=3, total_seconds=30, sleep=RecordedSleeps())
        provider, _ = await connect_exchange(
            credentials, retry=policy, outbound=OutboundPolicy.parse(urlsplit(self.base_url).netloc)
        )
        try:
            assert await provider.list_calendars()
        finally:
            await provider.aclose()


@contextmanager
def exchange_server(auth: tuple[str, ...] = ("NTLM",), lockout_threshold: int = 3) -> Iterator[Server]:
    clock = FakeClock()
    state = EmulatorState(id_prefix="AAMkAD", clock=clock)
    account = state.seed_demo(OWNER, "Owner")
    account.lockout_threshold = lockout_threshold
    with serve_in_thread(create_exchange_emulator(state, auth=auth)) as base_url:
        yield Server(state, account, clock, base_url)


def ntlm(password: str, login: str = OWNER) -> HttpNtlmAuth:
    return HttpNtlmAuth(login, password)


def refusal(answer: requests.Response) -> tuple[int, str, str]:
    """What a refused login shows on the wire."""
    return answer.status_code, answer.headers.get("WWW-Authenticate", ""), answer.text


# NTLM -----------------------------------------------------------------------------------------------
async def test_exchangelib_probes_ntlm_and_logs_in_with_it() -> None:
    with exchange_server() as server:
        # given: what exchangelib's auth-type probe (a POST without credentials) sees
        probe = server.post()
        assert probe.status_code == 401
        assert probe.raw.headers.getlist("WWW-Authenticate") == ["Negotiate", "NTLM"]
        # when / then
        await server.connect(server.account.password)
        assert server.account.refused_logins == 0


def test_ntlm_authenticates_the_connection_not_each_request() -> None:
    with exchange_server() as server, requests.Session() as session:
        session.auth = ntlm(server.account.password)
        # when
        first = session.post(server.ews_url, data=FROBNICATE, timeout=10)
        second = session.post(server.ews_url, data=FROBNICATE, timeout=10)
        elsewhere = server.post()
        # then: challenged once (anonymous 401, then the NTLM challenge), served; the same connection is served again
        # without a handshake; another connection is not authenticated by it
        assert [r.status_code for r in first.history] == [401, 401]
        assert first.history[1].headers["WWW-Authenticate"].startswith("NTLM ")
        assert first.status_code == 500 and "ErrorInvalidRequest" in first.text
        assert second.history == [] and "ErrorInvalidRequest" in second.text
        assert elsewhere.status_code == 401


@pytest.mark.parametrize("login", [OWNER, "EXCHANGE\\owner", "owner"])
def test_ntlm_accepts_the_user_principal_name_or_the_domain_login(login: str) -> None:
    with exchange_server() as server:
        # when
        answer = server.post(ntlm(server.account.password, login))
        # then
        assert "ErrorInvalidRequest" in answer.text


def test_ntlm_with_a_wrong_password_is_a_plain_401_and_counted() -> None:
    with exchange_server() as server:
        # when
        refused = server.post(ntlm("wrong"))
        # then
        assert refusal(refused) == refusal(server.post())
        assert server.account.refused_logins == 1


def test_basic_is_refused_where_only_ntlm_is_configured() -> None:
    with exchange_server(("NTLM",)) as server:
        # when
        answer = server.post((OWNER, server.account.password))
        # then: not a login attempt at all, as IIS with Basic authentication off answers it
        assert answer.status_code == 401
        assert "Basic" not in answer.headers["WWW-Authenticate"]
        assert server.account.refused_logins == 0


async def test_a_basic_only_server_refuses_ntlm_and_exchangelib_logs_in_with_basic() -> None:
    with exchange_server(("Basic",)) as server:
        # when
        answer = server.post(ntlm(server.account.password))
        # then
        assert answer.status_code == 401
        assert answer.raw.headers.getlist("WWW-Authenticate") == ['Basic realm="exchange.test"']
        await server.connect(server.account.password)


@pytest.mark.parametrize(("auth", "expected"), [(("NTLM", "Basic"), NTLM), (("Basic",), BASIC), (("NTLM",), NTLM)])
async def test_exchangelib_picks_the_scheme_the_server_offers(auth: tuple[str, ...], expected: str) -> None:
    with exchange_server(auth) as server:
        credentials = ExchangeCredentials(OWNER, server.account.password, ews_url=server.ews_url)
        provider, _ = await connect_exchange(
            credentials,
            retry=RetryPolicy(attempts=1, sleep=RecordedSleeps()),
            outbound=OutboundPolicy.parse(urlsplit(server.base_url).netloc),
        )
        # then
        assert provider._ews().protocol.auth_type == expected
        await provider.aclose()


# lockout --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("auth", [("NTLM",), ("Basic",)])
def test_an_account_locks_after_the_threshold_and_refuses_even_the_right_password(auth: tuple[str, ...]) -> None:
    with exchange_server(auth, lockout_threshold=3) as server:

        def login(password: str) -> requests.Response:
            return server.post(ntlm(password) if auth == ("NTLM",) else (OWNER, password))

        wrong = [login("wrong") for _ in range(3)]
        # when
        right = login(server.account.password)
        # then: the same plain 401 as a wrong password; nothing on the wire says "locked"
        assert server.account.locked_out(server.clock())
        assert refusal(right) == refusal(wrong[0]) == refusal(server.post())
        assert server.account.refused_logins == 4
        # when: the lockout duration has passed
        server.clock.advance(minutes=10)
        # then
        assert "ErrorInvalidRequest" in login(server.account.password).text


def test_bad_passwords_further_apart_than_the_observation_window_do_not_lock() -> None:
    with exchange_server(lockout_threshold=3) as server:
        # given
        server.post(ntlm("wrong"))
        server.post(ntlm("wrong"))
        server.clock.advance(minutes=10)
        server.post(ntlm("wrong"))
        server.post(ntlm("wrong"))
        # when
        answer = server.post(ntlm(server.account.password))
        # then
        assert "ErrorInvalidRequest" in answer.text
        assert server.account.refused_logins == 4


def test_a_good_login_clears_the_bad_password_count() -> None:
    with exchange_server(lockout_threshold=3) as server:
        # given
        for password in ("wrong", "wrong", server.account.password, "wrong", "wrong"):
            server.post(ntlm(password))
        # when
        answer = server.post(ntlm(server.account.password))
        # then
        assert "ErrorInvalidRequest" in answer.text


async def test_a_locked_out_account_refuses_the_provider_as_a_wrong_password_does() -> None:
    with exchange_server(lockout_threshold=2) as server:
        # given
        for _ in range(2):
            with pytest.raises(ProviderAuthError):
                await server.connect("wrong")
        assert server.account.refused_logins == 2
        # when / then
        with pytest.raises(ProviderAuthError):
            await server.connect(server.account.password)
        assert server.account.refused_logins == 3
        server.clock.advance(minutes=10)
        await server.connect(server.account.password)


def test_the_control_surface_shows_refused_logins_and_lockout() -> None:
    with exchange_server(lockout_threshold=1) as server:
        # given
        server.post(ntlm("wrong"))
        # when
        app = with_control(create_exchange_emulator(server.state), server.state)
        with serve_in_thread(app) as base_url:
            accounts = requests.get(f"{base_url}/_control/accounts", timeout=10).json()
        # then
        (owner,) = [a for a in accounts if a["email"] == OWNER]
        assert owner["refused_logins"] == 1 and owner["locked_out"] is True
