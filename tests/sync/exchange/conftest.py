"""An Exchange mailbox for sync tests: ExchangeCalendarProvider over real HTTP (NTLM) to the EWS emulator, with the
emulator's traffic (operations in order, CalendarView windows and sizes) at hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from emulators.exchange import create_exchange_emulator
from emulators.exchange_ews import EwsTraffic
from emulators.runner import serve_in_thread
from emulators.state import AccessRole, EmulatorState
from providers.exchange import ExchangeCalendarProvider, ExchangeCredentials, connect_exchange
from providers.http import RetryPolicy
from providers.outbound import OutboundPolicy
from tests.providers.harness import RecordedSleeps

OWNER = "owner@exchange.test"
COLLEAGUE = "colleague@exchange.test"
T0 = datetime(2026, 12, 7, tzinfo=UTC)
"""A Monday: the windows below start here."""
WINDOW = (T0 - timedelta(days=1), T0 + timedelta(days=63))
"""A sync window as scheduling.sync_rules.sync_window makes it (longer than one 42-day CalendarView)."""


@dataclass
class Mailbox:
    provider: ExchangeCalendarProvider
    state: EmulatorState
    traffic: EwsTraffic
    base_url: str
    primary_id: str
    second_id: str
    shared_id: str
    """A colleague's calendar shared with the owner as Reviewer (readable with details)."""

    def operations_since(self, mark: int) -> list[str]:
        return self.traffic.operations[mark:]


@pytest.fixture
async def mailbox() -> AsyncIterator[Mailbox]:
    state = EmulatorState(id_prefix="AAMkAD")
    account = state.seed_demo(OWNER, "Owner")
    second = next(c for c in state.calendars.values() if c.owner_email == OWNER and c.name == "Team events")
    shared = next(c for c, role in state.visible_calendars(OWNER) if role is AccessRole.READER)
    app = create_exchange_emulator(state)
    with serve_in_thread(app) as base_url:
        credentials = ExchangeCredentials(
            email=OWNER, password=account.password, ews_url=f"{base_url}/EWS/Exchange.asmx"
        )
        policy = RetryPolicy(attempts=4, total_seconds=30, sleep=RecordedSleeps())
        emulator_only = OutboundPolicy.parse(urlsplit(base_url).netloc)
        provider, _ = await connect_exchange(credentials, retry=policy, outbound=emulator_only)
        try:
            yield Mailbox(
                provider, state, app.state.traffic, base_url, account.primary_calendar_id, second.id, shared.id
            )
        finally:
            await provider.aclose()
