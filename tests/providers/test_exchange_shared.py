"""Another mailbox's calendar opened by address (ExchangeCalendarProvider.shared_calendar) over real HTTP to the
EWS emulator: its folder and the account's rights on it, its busy time by folder id, and why it cannot be opened."""

from __future__ import annotations

from datetime import timedelta

import pytest

from emulators.state import AccessRole
from providers.base import CalendarAccessLost, CalendarNotShared
from scheduling.calendars import AccessRole as Role
from tests.providers.test_exchange import OWNER, T0, connected, exchange_server

BOB = "bob@exchange.test"


@pytest.mark.parametrize(("shared_as", "role"), [(AccessRole.READER, Role.READER), (AccessRole.WRITER, Role.WRITER)])
async def test_the_calendar_of_a_mailbox_that_shares_it_is_its_calendar_folder(
    shared_as: AccessRole, role: Role
) -> None:
    with exchange_server() as server:
        # given
        bob = server.state.add_account(BOB, "Bob")
        server.state.add_share(OWNER, bob.primary_calendar_id, shared_as)
        server.state.add_event(bob.primary_calendar_id, T0, T0 + timedelta(hours=1))
        provider = await connected(server)
        # when
        calendar = await provider.shared_calendar(BOB)
        busy = await provider.get_busy([calendar.id], T0 - timedelta(days=1), T0 + timedelta(days=1))
        await provider.aclose()
        # then
        assert (calendar.id, calendar.name, calendar.is_primary, calendar.access_role) == (
            bob.primary_calendar_id,
            "Calendar",
            False,
            role,
        )
        assert [(i.start, i.end) for i in busy.intervals[calendar.id]] == [(T0, T0 + timedelta(hours=1))]


@pytest.mark.parametrize(
    ("address", "shared_as"),
    [("nobody@exchange.test", None), (BOB, None), (BOB, AccessRole.FREE_BUSY)],
    ids=["no-such-mailbox", "not-shared", "free-busy-only"],
)
async def test_a_calendar_the_account_cannot_read_is_not_shared(address: str, shared_as: AccessRole | None) -> None:
    with exchange_server() as server:
        # given
        bob = server.state.add_account(BOB, "Bob")
        if shared_as is not None:
            server.state.add_share(OWNER, bob.primary_calendar_id, shared_as)
        provider = await connected(server)
        # when
        with pytest.raises(CalendarNotShared) as raised:
            await provider.shared_calendar(address)
        await provider.aclose()
        # then
        assert address in raised.value.message
        assert "GetFolder" in server.traffic.operations and "FindItem" not in server.traffic.operations


async def test_a_revoked_share_is_lost_access_on_the_next_busy_read() -> None:
    with exchange_server() as server:
        # given
        bob = server.state.add_account(BOB, "Bob")
        server.state.add_share(OWNER, bob.primary_calendar_id, AccessRole.READER)
        provider = await connected(server)
        calendar = await provider.shared_calendar(BOB)
        server.state.lose_access(OWNER, bob.primary_calendar_id)
        # when
        with pytest.raises(CalendarAccessLost) as raised:
            await provider.get_busy([calendar.id], T0, T0 + timedelta(days=1))
        await provider.aclose()
        # then
        assert raised.value.calendar_ids == (bob.primary_calendar_id,)
