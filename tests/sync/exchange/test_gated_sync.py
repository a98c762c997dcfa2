"""Exchange sync through the app's provider factory (GatedExchangeProvider): the connection's login gate applies to
sync as to availability, so a refused password is sent once and the connection turns INACTIVE as it does today."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import col, select

from db.models import Calendar, CalendarConnection, ConnectionStatus, InactiveReason
from meetgraph.providers import ConnectionInactive, provider_for
from meetgraph.services import Services
from providers.base import CalendarAccessLost, ProviderAuthError, SyncCursorExpired
from tests.utils.emulators import EXCHANGE_USER, EmulatorServer, World
from tests.utils.exchange_traffic import LoginCounter, count_logins
from tests.utils.graphql import GraphQLClient
from tests.utils.page import page_owner

OWNER = "ada@example.com"
START = datetime(2026, 12, 6, tzinfo=UTC)
END = START + timedelta(days=64)


@pytest.fixture
def logins(emulator_server: tuple[EmulatorServer, str], world: World) -> Iterator[LoginCounter]:
    counter, _ = count_logins(emulator_server[0], world)
    yield counter
    emulator_server[0].install(world)


async def connected(gql: GraphQLClient, http: httpx.AsyncClient, services: Services) -> tuple[str, str]:
    """An Exchange owner connected through the API: (connection id, the primary calendar's provider id)."""
    await page_owner(gql, http, OWNER, provider="EXCHANGE")
    async with services.sessionmaker() as session:
        connection = (await session.exec(select(CalendarConnection))).one()
        primary = (
            await session.exec(
                select(Calendar).where(col(Calendar.connection_id) == connection.id, col(Calendar.is_primary))
            )
        ).one()
    return str(connection.id), primary.provider_calendar_id


async def stored_connection(services: Services) -> CalendarConnection:
    async with services.sessionmaker() as session:
        return (await session.exec(select(CalendarConnection))).one()


def change_password(world: World, services: Services) -> None:
    """The password changed at the server; the NTLM-signed keep-alive connections of before have ended."""
    account = world.exchange.account(EXCHANGE_USER)
    assert account is not None
    account.password = "the-new-password"
    services.exchange_accounts.close()


async def test_sync_through_the_gate_reads_and_polls(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World
) -> None:
    # given
    _, calendar_id = await connected(gql, http, services)
    at = START + timedelta(days=1, hours=9)
    world.exchange.add_event(calendar_id, at, at + timedelta(hours=1), "Busy")
    calls = world.exchange_app.state.calls
    connection = await stored_connection(services)
    # when
    async with provider_for(connection, services) as provider:
        full = await provider.sync_events(calendar_id, None, START, END)
        before = sum(calls.values())
        quiet = await provider.sync_events(calendar_id, full.cursor, START, END)
        polled = sum(calls.values()) - before
        world.exchange.expire_sync_state(calendar_id)
        with pytest.raises(SyncCursorExpired):
            await provider.sync_events(calendar_id, quiet.cursor, START, END)
    # then
    assert full.full and [(e.start, e.end) for e in full.changed if e.blocks] == [(at, at + timedelta(hours=1))]
    assert (quiet.changed, quiet.full) == ([], False)
    assert polled == 1


@pytest.mark.parametrize("polling", [False, True], ids=["full", "poll"])
async def test_a_refused_password_is_sent_once_and_the_connection_turns_inactive(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    services: Services,
    world: World,
    logins: LoginCounter,
    polling: bool,
) -> None:
    # given: a synced calendar, then the password changed at the server
    _, calendar_id = await connected(gql, http, services)
    connection = await stored_connection(services)
    async with provider_for(connection, services) as provider:
        cursor = (await provider.sync_events(calendar_id, None, START, END)).cursor if polling else None
    change_password(world, services)
    refused_before, attempts_before = logins.refused, logins.attempts
    # when: several syncs of the connection at once
    async with provider_for(connection, services) as provider:
        results = await asyncio.gather(
            *(provider.sync_events(calendar_id, cursor, START, END) for _ in range(4)), return_exceptions=True
        )
    await services.drain()
    # then: one refused sign-in, all four refused, the connection INACTIVE with its reason
    assert all(isinstance(r, ProviderAuthError) for r in results), results
    assert logins.refused - refused_before == 1 and logins.attempts - attempts_before == 1
    stored = await stored_connection(services)
    assert stored.status is ConnectionStatus.INACTIVE and stored.inactive_reason is InactiveReason.PASSWORD_REFUSED
    # and nothing signs in with it any more
    with pytest.raises(ConnectionInactive):
        async with provider_for(stored, services) as provider:
            await provider.sync_events(calendar_id, cursor, START, END)
    assert logins.attempts - attempts_before == 1


@pytest.mark.parametrize("polling", [False, True], ids=["full", "poll"])
async def test_lost_access_found_by_sync_is_calendar_access_lost_and_the_connection_stays(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World, polling: bool
) -> None:
    # given
    _, calendar_id = await connected(gql, http, services)
    connection = await stored_connection(services)
    async with provider_for(connection, services) as provider:
        cursor = (await provider.sync_events(calendar_id, None, START, END)).cursor if polling else None
    world.exchange.lose_access(EXCHANGE_USER, calendar_id)
    # when
    async with provider_for(connection, services) as provider:
        with pytest.raises(CalendarAccessLost) as lost:
            await provider.sync_events(calendar_id, cursor, START, END)
    # then: the calendar is named; the login was fine, so the connection stays active
    assert list(lost.value.calendar_ids) == [calendar_id]
    assert (await stored_connection(services)).status is ConnectionStatus.ACTIVE
