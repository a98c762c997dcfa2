"""Exchange harness: ExchangeCalendarProvider over real HTTP to the EWS emulator, logging in with NTLM as on-prem
Exchange wants it (harness_exchange_basic.py: the same with Basic)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from exchangelib.transport import BASIC, NTLM

from emulators.exchange import create_exchange_emulator
from emulators.runner import serve_in_thread
from emulators.state import EmulatorState
from providers.exchange import ExchangeCredentials, connect_exchange
from providers.http import RetryPolicy
from providers.outbound import OutboundPolicy
from tests.providers.harness import Harness, RecordedSleeps

OWNER = "owner@exchange.test"
LOGIN_SCHEMES = {"NTLM": NTLM, "Basic": BASIC}
"""exchangelib's auth types by the emulator's scheme names (exchangelib prefers NTLM when both are offered)."""


@asynccontextmanager
async def make_harness(
    policy: RetryPolicy, sleeps: RecordedSleeps, auth: tuple[str, ...] = ("NTLM",)
) -> AsyncIterator[Harness]:
    state = EmulatorState(id_prefix="AAMkAD")
    account = state.seed_demo(OWNER, "Owner")
    second = next(c for c in state.calendars.values() if c.owner_email == OWNER and c.name == "Team events")
    with serve_in_thread(create_exchange_emulator(state, auth=auth)) as base_url:
        credentials = ExchangeCredentials(
            email=OWNER, password=account.password, ews_url=f"{base_url}/EWS/Exchange.asmx"
        )
        emulator_only = OutboundPolicy.parse(urlsplit(base_url).netloc)
        provider, _ = await connect_exchange(credentials, retry=policy, outbound=emulator_only)
        protocol = provider._ews().protocol  # opened by connect_exchange; exchangelib reads TIMEOUT per request
        assert protocol.auth_type == LOGIN_SCHEMES[auth[0]], "exchangelib logs in as the server's probe answer asks"
        try:
            yield Harness(
                name="exchange",
                provider=provider,
                state=state,
                account_email=OWNER,
                primary_id=account.primary_calendar_id,
                second_id=second.id,
                reader_share_id=None,
                freebusy_share_id=None,
                sleeps=sleeps,
                set_client_timeout=lambda seconds: setattr(protocol, "TIMEOUT", seconds),
            )
        finally:
            await provider.aclose()
