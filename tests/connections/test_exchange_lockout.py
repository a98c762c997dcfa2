"""A refused Exchange password is sent once: the connection turns INACTIVE at once (with its reason, the owner
is mailed once), nothing signs in with it afterwards, and re-entering the password brings it back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select

from db.models import Calendar, CalendarConnection, ConnectionStatus, InactiveReason
from meetgraph.providers import deactivate, provider_for, refusal_reason
from meetgraph.services import Services
from providers.base import AccountLockedOut, ProviderAuthError
from resolvers.calendar_writes import WRITE_MEETING
from tests.booking import conftest as booking
from tests.utils.clock import FakeClock
from tests.utils.connection import calendar_ids
from tests.utils.emulators import EXCHANGE_PASSWORD, EXCHANGE_USER, EmulatorServer, World
from tests.utils.exchange_traffic import CreateItemOutage, LoginCounter, count_logins
from tests.utils.graphql import GraphQLClient, iso
from tests.utils.jobs import jobs_of_kind, run_due
from tests.utils.mail import Mailbox
from tests.utils.meeting import book, my_meetings
from tests.utils.page import AVAILABLE_SLOTS, PageOwner, page_owner
from tests.utils.settings import save_settings_ok
from tests.utils.user import create_user

OWNER = "ada@example.com"
NEW_PASSWORD = "the-new-password"
START = datetime(2026, 12, 2, tzinfo=UTC)
SLOT = START + timedelta(hours=9)
WINDOW = timedelta(days=62)
"""The longest availableSlots window: two CalendarViews per calendar (4 refused sign-ins per view before)."""

CONNECTIONS = """{ me { calendarConnections { id status inactiveReason calendars { name status } } } }"""

RECONNECT = """
mutation($id: ID!, $password: String!, $username: String) {
  reconnectExchangeCalendar(id: $id, password: $password, username: $username) {
    __typename
    ... on ConnectCalendarSuccess { connection { id status inactiveReason calendars { name status } } }
    ... on ValidationError { field }
    ... on Error { message } } }
"""


@pytest.fixture
def traffic(
    emulator_server: tuple[EmulatorServer, str], world: World
) -> Iterator[tuple[LoginCounter, CreateItemOutage]]:
    staged = count_logins(emulator_server[0], world)
    yield staged
    emulator_server[0].install(world)


@pytest.fixture
def logins(traffic: tuple[LoginCounter, CreateItemOutage]) -> LoginCounter:
    return traffic[0]


mailbox = booking.mailbox
"""The booking tests' fixture: a real SMTP server on loopback the app's mailer sends to."""


@dataclass(frozen=True)
class Refusing:
    owner: PageOwner
    refused_before: int


@pytest.fixture
async def refusing(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, logins: LoginCounter
) -> Refusing:
    """An Exchange owner whose password was just changed at the server: the stored one is refused from now on."""
    owner = await exchange_owner(gql, http)
    change_password(world, services)
    return Refusing(owner, logins.refused)


async def exchange_owner(gql: GraphQLClient, http: httpx.AsyncClient) -> PageOwner:
    """An Exchange owner whose page checks the primary calendar and "Team events" (two views per sign-in)."""
    owner = await page_owner(gql, http, OWNER, provider="EXCHANGE")
    ids = await calendar_ids(gql, owner.token)
    await save_settings_ok(gql, owner.token, availabilityCalendarIds=[ids["Team events"]])
    return owner


async def view(gql: GraphQLClient, slug: str) -> list[dict[str, Any]]:
    """availableSlots of the page as an anonymous visitor, over the longest window."""
    data = await gql(AVAILABLE_SLOTS, {"slug": slug, "start": iso(START), "end": iso(START + WINDOW)})
    slots: list[dict[str, Any]] = data["schedulingPage"]["availableSlots"]
    return slots


async def connection_of(gql: GraphQLClient, token: str) -> dict[str, Any]:
    (connection,) = (await gql(CONNECTIONS, token=token))["me"]["calendarConnections"]
    found: dict[str, Any] = connection
    return found


async def stored_credentials(services: Services) -> str:
    async with services.sessionmaker() as session:
        (connection,) = (await session.exec(select(CalendarConnection))).all()
    return connection.credentials


def inactive_mails(mailbox: Mailbox) -> list[str]:
    """Subjects of the mails about the connection (not those about one booking or one meeting)."""
    about_one = ("Someone tried to book", "could not be added")
    return [str(m["Subject"]) for m in mailbox.to(OWNER) if not any(s in str(m["Subject"]) for s in about_one)]


def change_password(world: World, services: Services) -> None:
    """The password changed at the server, and the connections signed in with NTLM before have ended (IIS closes
    idle keep-alive connections after two minutes; NTLM signs in a connection, not a request)."""
    account = world.exchange.account(EXCHANGE_USER)
    assert account is not None
    account.password = NEW_PASSWORD
    services.exchange_accounts.close()


async def test_a_refused_password_is_sent_once_then_never_again(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World, logins: LoginCounter,
    mailbox: Mailbox,
) -> None:  # fmt: skip
    # given
    owner = await exchange_owner(gql, http)
    assert await view(gql, owner.slug) != []
    change_password(world, services)
    refused_before, attempts_before = logins.refused, logins.attempts
    # when
    first = await view(gql, owner.slug)
    # then: one refused sign-in (4 before), and the connection shows why it is inactive
    assert first == []
    assert logins.refused - refused_before == 1
    connection = await connection_of(gql, owner.token)
    assert connection["status"] == "INACTIVE" and connection["inactiveReason"] == "PASSWORD_REFUSED"
    # when: the page keeps being viewed and booked
    after_first = logins.attempts
    views = [await view(gql, owner.slug) for _ in range(20)]
    bookings = [await book(gql, owner.slug, SLOT + timedelta(hours=n)) for n in range(5)]
    await services.drain()
    # then: nothing signs in any more; pages show the lost-access state; the owner was told once
    assert logins.attempts == after_first and after_first - attempts_before == 1
    assert views == [[]] * 20
    assert [b["__typename"] for b in bookings] == ["CalendarAccessLostError"] * 5
    assert await my_meetings(gql, owner.token) == []
    (subject,) = inactive_mails(mailbox)
    assert "refused the password" in subject
    (mail,) = [m for m in mailbox.to(OWNER) if m["Subject"] == subject]
    body = mail.get_payload(decode=True).decode()
    assert "Re-enter the password" in body and "TransportError" not in body


async def test_parallel_views_make_one_transition_and_one_mail(
    gql: GraphQLClient, services: Services, logins: LoginCounter, mailbox: Mailbox, refusing: Refusing
) -> None:
    # when
    results = await asyncio.gather(*(view(gql, refusing.owner.slug) for _ in range(10)))
    await services.drain()
    # then
    assert results == [[]] * 10
    assert logins.refused - refusing.refused_before == 1
    assert (await connection_of(gql, refusing.owner.token))["inactiveReason"] == "PASSWORD_REFUSED"
    assert len(inactive_mails(mailbox)) == 1


async def test_reentered_password_is_checked_before_anything_is_written(
    gql: GraphQLClient, services: Services, logins: LoginCounter, refusing: Refusing
) -> None:
    # given: the connection went inactive
    owner = refusing.owner
    await view(gql, owner.slug)
    connection = await connection_of(gql, owner.token)
    stored = await stored_credentials(services)
    refused_before = logins.refused
    # when: a wrong password is entered
    wrong = (await gql(RECONNECT, {"id": connection["id"], "password": EXCHANGE_PASSWORD}, owner.token))[
        "reconnectExchangeCalendar"
    ]
    # then: refused once at the server, nothing written
    assert wrong["__typename"] == "ProviderError"
    assert logins.refused - refused_before == 1
    assert await stored_credentials(services) == stored
    assert await connection_of(gql, owner.token) == connection
    # when: the right one
    right = (await gql(RECONNECT, {"id": connection["id"], "password": NEW_PASSWORD}, owner.token))[
        "reconnectExchangeCalendar"
    ]
    booked = await book(gql, owner.slug, SLOT)
    # then: active again, with its calendars, and bookings work at once
    assert right["__typename"] == "ConnectCalendarSuccess", right
    assert right["connection"]["status"] == "ACTIVE" and right["connection"]["inactiveReason"] is None
    assert {c["status"] for c in right["connection"]["calendars"]} == {"ACTIVE"}
    assert booked["__typename"] == "BookMeetingSuccess" and booked["meeting"]["syncState"] == "SYNCED"
    assert await view(gql, owner.slug) != []
    assert logins.refused - refused_before == 1


async def test_reconnecting_someone_elses_connection_is_not_found(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World, logins: LoginCounter
) -> None:
    # given
    owner = await exchange_owner(gql, http)
    connection = await connection_of(gql, owner.token)
    _, other = await create_user(gql, "eve@example.com")
    attempts_before = logins.attempts
    # when
    foreign = await gql(RECONNECT, {"id": connection["id"], "password": NEW_PASSWORD}, other)
    malformed = await gql(RECONNECT, {"id": "not-an-id", "password": NEW_PASSWORD}, owner.token)
    empty = await gql(RECONNECT, {"id": connection["id"], "password": ""}, owner.token)
    # then
    assert foreign["reconnectExchangeCalendar"]["__typename"] == "NotFoundError"
    assert malformed["reconnectExchangeCalendar"]["__typename"] == "NotFoundError"
    assert empty["reconnectExchangeCalendar"] == {"__typename": "ValidationError", "message": empty[
        "reconnectExchangeCalendar"]["message"], "field": "password"}  # fmt: skip
    assert logins.attempts == attempts_before


async def test_a_write_job_refused_marks_the_connection_and_later_jobs_send_nothing(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World,
    traffic: tuple[LoginCounter, CreateItemOutage], mailbox: Mailbox, clock: FakeClock,
) -> None:  # fmt: skip
    # given: two booked meetings whose calendar writes failed for now (CreateItem was unavailable)
    logins, outage = traffic
    owner = await exchange_owner(gql, http)
    outage.active = True
    booked = [await book(gql, owner.slug, SLOT + timedelta(hours=n)) for n in range(2)]
    assert [b["meeting"]["syncState"] for b in booked] == ["PENDING"] * 2
    outage.active = False
    change_password(world, services)
    attempts_before, refused_before = logins.attempts, logins.refused
    # when: the retries are due
    clock.advance(hours=1)
    ran = await run_due(services)
    await services.drain()
    # then: one refused sign-in; the second job did not call the server; the owner sees both
    assert ran.count(WRITE_MEETING) == 2
    assert (logins.attempts - attempts_before, logins.refused - refused_before) == (1, 1)
    assert (await connection_of(gql, owner.token))["inactiveReason"] == "PASSWORD_REFUSED"
    assert [m["syncState"] for m in await my_meetings(gql, owner.token)] == ["FAILED"] * 2
    assert [job.state.value for job in await jobs_of_kind(services, WRITE_MEETING)] == ["FAILED"] * 2
    subjects = [str(m["Subject"]) for m in mailbox.to(OWNER)]
    assert sum("refused the password" in s for s in subjects) == 1
    assert sum("could not be added" in s for s in subjects) == 2


async def test_a_locked_out_account_has_its_own_reason_and_message(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World, logins: LoginCounter,
    mailbox: Mailbox,
) -> None:  # fmt: skip
    # given
    owner = await exchange_owner(gql, http)
    async with services.sessionmaker() as session:
        (connection,) = (await session.exec(select(CalendarConnection))).all()
    attempts_before = logins.attempts
    # when: the provider said the account is locked out (twice, concurrently)
    reason = refusal_reason(AccountLockedOut("locked out"))
    made = await asyncio.gather(*(deactivate(services, connection.id, reason) for _ in range(2)))
    await services.drain()
    booked = await book(gql, owner.slug, SLOT)
    # then
    assert sorted(made) == [False, True]
    assert (await connection_of(gql, owner.token))["inactiveReason"] == "ACCOUNT_LOCKED_OUT"
    assert booked["__typename"] == "CalendarAccessLostError"
    assert logins.attempts == attempts_before
    (subject,) = inactive_mails(mailbox)
    assert "locked out" in subject
    (mail,) = [m for m in mailbox.to(OWNER) if m["Subject"] == subject]
    assert "administrator" in mail.get_payload(decode=True).decode()


async def test_a_late_refusal_of_the_old_password_leaves_a_reconnected_connection_active(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services
) -> None:
    # given: the credentials a request signed in with, then the owner re-entered the password (new credentials)
    owner = await exchange_owner(gql, http)
    async with services.sessionmaker() as session:
        (connection,) = (await session.exec(select(CalendarConnection))).all()
    old = connection.credentials
    async with services.sessionmaker() as session:
        row = await session.get(CalendarConnection, connection.id)
        assert row is not None
        row.credentials = services.cipher.encrypt(services.cipher.decrypt(old))
        session.add(row)
        await session.commit()
    # when: that request's refusal of the old password arrives now
    made = await deactivate(services, connection.id, InactiveReason.PASSWORD_REFUSED, refused=old)
    # then
    assert made is False
    assert (await connection_of(gql, owner.token))["status"] == "ACTIVE"


def test_a_refused_login_is_a_refused_password_unless_the_server_says_locked_out() -> None:
    assert refusal_reason(ProviderAuthError("refused")) is InactiveReason.PASSWORD_REFUSED
    assert refusal_reason(AccountLockedOut("locked")) is InactiveReason.ACCOUNT_LOCKED_OUT
    assert ConnectionStatus.INACTIVE.value == "INACTIVE"


async def test_a_revoked_oauth_grant_records_its_reason_and_mails_once(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World, mailbox: Mailbox
) -> None:
    # given
    owner = await page_owner(gql, http, OWNER, provider="GOOGLE")
    world.google.faults.revoked = True
    world.google.oauth.expire_access_tokens()
    # when
    views = await asyncio.gather(*(view(gql, owner.slug) for _ in range(5)))
    booked = await book(gql, owner.slug, SLOT)
    await services.drain()
    # then
    assert views == [[]] * 5 and booked["__typename"] == "CalendarAccessLostError"
    connection = await connection_of(gql, owner.token)
    assert connection["status"] == "INACTIVE" and connection["inactiveReason"] == "ACCESS_REVOKED"
    (subject,) = inactive_mails(mailbox)
    assert "revoked" in subject


async def test_a_connection_another_process_marked_inactive_is_not_signed_in_with(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, logins: LoginCounter
) -> None:
    # given: a request read the connection while it was ACTIVE; then another process saw the password refused
    await exchange_owner(gql, http)
    async with services.sessionmaker() as session:
        (connection,) = (await session.exec(select(CalendarConnection))).all()
        calendars = (await session.exec(select(Calendar.provider_calendar_id))).all()
    await deactivate(services, connection.id, InactiveReason.PASSWORD_REFUSED)
    attempts_before = logins.attempts
    # when
    async with provider_for(connection, services) as provider:
        with pytest.raises(ProviderAuthError) as refused:
            await provider.get_busy(calendars, START, START + WINDOW)
    # then
    assert logins.attempts == attempts_before
    assert "re-enter the password" in refused.value.message
