"""The Exchange emulator throttles as Exchange does: HTTP 500 with an ErrorServerBusy SOAP fault whose
BackOffMilliseconds says when to come back (a load balancer's 503 stays a plain page with Retry-After)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import requests
from exchangelib.errors import ErrorServerBusy
from requests_ntlm import HttpNtlmAuth

from emulators.exchange import create_exchange_emulator
from emulators.runner import serve_in_thread
from emulators.state import EmulatedAccount, EmulatorState
from providers.base import ProviderRateLimited
from providers.exchange import ExchangeCalendarProvider, ExchangeCredentials, connect_exchange
from providers.http import RetryPolicy
from providers.outbound import OutboundPolicy
from tests.providers.harness import RecordedSleeps

OWNER = "owner@exchange.test"
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
SOAP = "{http://schemas.xmlsoap.org/soap/envelope/}"
ERRORS = "{http://schemas.microsoft.com/exchange/services/2006/errors}"
TYPES = "{http://schemas.microsoft.com/exchange/services/2006/types}"
FROBNICATE = (
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
    '<m:Frobnicate xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"/></s:Body></s:Envelope>'
)


@dataclass
class Connected:
    state: EmulatorState
    account: EmulatedAccount
    base_url: str
    provider: ExchangeCalendarProvider
    sleeps: RecordedSleeps

    def answer_to_failure(self, code: int, *, retry_after_seconds: int) -> requests.Response:
        """What one EWS request, logged in with NTLM on a connection of its own, gets when failure `code` is
        scripted next."""
        self.state.faults.fail_next = [code]
        self.state.faults.retry_after_seconds = retry_after_seconds
        with requests.Session() as session:
            session.auth = HttpNtlmAuth(OWNER, self.account.password)
            return session.post(f"{self.base_url}/EWS/Exchange.asmx", data=FROBNICATE, timeout=10)


@asynccontextmanager
async def connected() -> AsyncIterator[Connected]:
    state = EmulatorState(id_prefix="AAMkAD")
    account = state.seed_demo(OWNER, "Owner")
    app = create_exchange_emulator(state)
    with serve_in_thread(app) as base_url:
        sleeps = RecordedSleeps()
        provider, _ = await connect_exchange(
            ExchangeCredentials(OWNER, account.password, ews_url=f"{base_url}/EWS/Exchange.asmx"),
            retry=RetryPolicy(attempts=3, total_seconds=60, sleep=sleeps),
            outbound=OutboundPolicy.parse(urlsplit(base_url).netloc),
        )
        try:
            yield Connected(state, account, base_url, provider, sleeps)
        finally:
            await provider.aclose()


async def test_server_busy_is_an_http_500_soap_fault_with_the_back_off() -> None:
    async with connected() as world:
        # when
        answer = world.answer_to_failure(429, retry_after_seconds=3)
        # then
        assert answer.status_code == 500
        assert "Retry-After" not in answer.headers
        fault = ET.fromstring(answer.content).find(f"{SOAP}Body/{SOAP}Fault")
        assert fault is not None
        assert fault.findtext("faultcode", "").endswith(":ErrorServerBusy")
        assert fault.findtext(f"detail/{ERRORS}ResponseCode") == "ErrorServerBusy"
        back_off = fault.find(f"detail/{TYPES}MessageXml/{TYPES}Value")
        assert back_off is not None and back_off.get("Name") == "BackOffMilliseconds" and back_off.text == "3000"


async def test_server_busy_is_retried_after_the_servers_back_off() -> None:
    async with connected() as world:
        # given
        primary = world.account.primary_calendar_id
        world.state.add_event(primary, T0, T0 + timedelta(hours=1))
        world.state.faults.fail_next = [429]
        world.state.faults.retry_after_seconds = 4
        # when
        busy = await world.provider.get_busy([primary], T0, T0 + timedelta(days=1))
        # then
        assert [(i.start, i.end) for i in busy.intervals[primary]] == [(T0, T0 + timedelta(hours=1))]
        assert world.sleeps.calls == [4.0]


async def test_persistent_server_busy_surfaces_as_rate_limited_with_the_back_off() -> None:
    async with connected() as world:
        # given
        world.state.faults.fail_next = [429] * 10
        world.state.faults.retry_after_seconds = 5
        # when
        with pytest.raises(ProviderRateLimited) as caught:
            await world.provider.get_busy([world.account.primary_calendar_id], T0, T0 + timedelta(days=1))
        # then: exchangelib read the back-off from the fault's MessageXml
        assert caught.value.retry_after == 5.0
        assert world.sleeps.calls == [5.0, 5.0]
        assert isinstance(caught.value.__cause__, Exception)
        assert isinstance(caught.value.__cause__.__cause__, ErrorServerBusy)
        assert caught.value.__cause__.__cause__.back_off == 5.0


async def test_a_load_balancers_503_keeps_its_retry_after() -> None:
    async with connected() as world:
        # when
        answer = world.answer_to_failure(503, retry_after_seconds=2)
        # then
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "2"
        assert not answer.text.lstrip().startswith("<")
