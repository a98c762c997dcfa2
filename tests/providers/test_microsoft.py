"""Office 365 specifics: the OAuth dance, shares, getSchedule chunking, throttling, revocation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from emulators.state import AccessRole as EmulatorRole
from emulators.state import EmulatorState
from meetgraph.providers import oauth_config
from providers.base import (
    Attendee,
    CalendarAccessLost,
    EventDraft,
    ProviderAuthError,
    ProviderRequestError,
)
from providers.http import RetryPolicy
from providers.microsoft import MicrosoftCalendarProvider
from providers.oauth import (
    MemoryTokenStore,
    RefreshLocks,
    TokenManager,
    authorization_url,
    exchange_code,
    new_code_verifier,
)
from scheduling.calendars import AccessRole, ProviderKind
from tests.providers.harness import RecordedSleeps
from tests.providers.harness_microsoft import ACCOUNT, MicrosoftWorld, make_world

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
REDIRECT_URI = "http://127.0.0.1:8000/oauth/microsoft/callback"


@pytest.fixture
def sleeps() -> RecordedSleeps:
    return RecordedSleeps()


@pytest.fixture
def state() -> EmulatorState:
    return EmulatorState("AAMkAG")


@pytest.fixture
async def world(state: EmulatorState, sleeps: RecordedSleeps) -> AsyncIterator[MicrosoftWorld]:
    policy = RetryPolicy(attempts=4, total_seconds=30, sleep=sleeps)
    async with make_world(policy, sleeps, state) as w:
        yield w


def authorize_redirect(world: MicrosoftWorld, url: str) -> dict[str, list[str]]:
    response = httpx.get(url, follow_redirects=False)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI)
    return parse_qs(urlsplit(location).query)


def share_colleagues(state: EmulatorState, count: int) -> list[str]:
    """`count` colleagues who share their default calendar (full details) with the account."""
    ids = []
    for n in range(count):
        colleague = state.add_account(f"peer{n:02d}@contoso.test", f"Peer {n}")
        state.add_share(ACCOUNT, colleague.primary_calendar_id, EmulatorRole.READER)
        ids.append(colleague.primary_calendar_id)
    return ids


# OAuth ---------------------------------------------------------------------------
async def test_authorization_code_with_pkce_connects_the_account(world: MicrosoftWorld) -> None:
    # given
    config = oauth_config(ProviderKind.OFFICE365, world.settings)
    verifier = new_code_verifier()
    url = authorization_url(config, redirect_uri=REDIRECT_URI, state="st-1", code_verifier=verifier)
    # when
    query = authorize_redirect(world, f"{url}&login_hint={ACCOUNT}")
    token = await exchange_code(
        config,
        code=query["code"][0],
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
        now=datetime.now(UTC),
    )
    # then
    sent = parse_qs(urlsplit(url).query)
    assert sent["code_challenge_method"] == ["S256"]
    assert sent["response_mode"] == ["query"]
    assert "offline_access" in sent["scope"][0].split()
    assert query["state"] == ["st-1"]
    assert token.refresh_token
    assert world.harness.state.oauth.token_owner(token.access_token) == ACCOUNT


async def test_a_wrong_code_verifier_is_refused(world: MicrosoftWorld) -> None:
    # given
    config = oauth_config(ProviderKind.OFFICE365, world.settings)
    url = authorization_url(config, redirect_uri=REDIRECT_URI, state="st-2", code_verifier=new_code_verifier())
    query = authorize_redirect(world, url)
    # when / then
    with pytest.raises(ProviderAuthError):
        await exchange_code(
            config,
            code=query["code"][0],
            redirect_uri=REDIRECT_URI,
            code_verifier=new_code_verifier(),
            now=datetime.now(UTC),
        )


@pytest.mark.parametrize("extra", ["&emulator_deny=1", "&login_hint=nobody@contoso.test"])
async def test_a_refused_consent_redirects_with_access_denied(world: MicrosoftWorld, extra: str) -> None:
    # given
    config = oauth_config(ProviderKind.OFFICE365, world.settings)
    url = authorization_url(config, redirect_uri=REDIRECT_URI, state="st-3", code_verifier=new_code_verifier())
    # when
    query = authorize_redirect(world, url + extra)
    # then
    assert query["error"] == ["access_denied"]
    assert query["error_description"][0].startswith("AADSTS")
    assert query["state"] == ["st-3"]
    assert "code" not in query


# calendars -----------------------------------------------------------------------
async def test_calendars_are_read_across_pages(world: MicrosoftWorld, state: EmulatorState) -> None:
    # given
    for n in range(120):
        state.add_calendar(ACCOUNT, f"Project {n:03d}")
    # when
    calendars = await world.harness.provider.list_calendars()
    # then
    assert len(calendars) == 124
    assert world.calls["calendars.list"] == 3


async def test_shares_map_to_access_roles(world: MicrosoftWorld, state: EmulatorState) -> None:
    # given
    colleague = "colleague@contoso.test"
    writable = state.add_calendar(colleague, "Colleague (can edit)")
    state.add_share(ACCOUNT, writable.id, EmulatorRole.WRITER)
    # when
    roles = {c.id: c.access_role for c in await world.harness.provider.list_calendars()}
    # then
    assert roles[world.harness.primary_id] is AccessRole.OWNER
    assert roles[world.harness.reader_share_id or ""] is AccessRole.READER
    assert roles[world.harness.freebusy_share_id or ""] is AccessRole.FREE_BUSY
    assert roles[writable.id] is AccessRole.WRITER


# busy time -----------------------------------------------------------------------
async def post_schedule(world: MicrosoftWorld, access: str, end: str) -> httpx.Response:
    """The account's getSchedule from 2026-12-07 08:00 UTC to `end`, hour by hour."""
    body = {
        "schedules": [ACCOUNT],
        "startTime": {"dateTime": "2026-12-07T08:00:00", "timeZone": "UTC"},
        "endTime": {"dateTime": end, "timeZone": "UTC"},
        "availabilityViewInterval": 60,
    }
    async with httpx.AsyncClient() as client:
        return await client.post(
            f"{world.settings.microsoft_graph_url}/me/calendar/getSchedule",
            json=body,
            headers={"Authorization": f"Bearer {access}"},
        )


async def test_get_schedule_is_chunked_by_twenty_mailboxes(world: MicrosoftWorld, state: EmulatorState) -> None:
    # given
    shared = share_colleagues(state, 45)
    for n, calendar_id in enumerate(shared):
        state.add_event(calendar_id, T0 + timedelta(hours=n), T0 + timedelta(hours=n, minutes=30))
    state.add_event(world.harness.primary_id, T0, T0 + timedelta(hours=2))
    # when
    busy = await world.harness.provider.get_busy([world.harness.primary_id, *shared], T0, T0 + timedelta(days=3))
    # then
    assert world.calls["getSchedule"] == 3
    assert world.calls["calendarView"] == 0
    for n, calendar_id in enumerate(shared):
        assert [(i.start, i.end) for i in busy.intervals[calendar_id]] == [
            (T0 + timedelta(hours=n), T0 + timedelta(hours=n, minutes=30))
        ]
    assert [(i.start, i.end) for i in busy.intervals[world.harness.primary_id]] == [(T0, T0 + timedelta(hours=2))]


async def test_a_long_window_is_split_below_62_days(world: MicrosoftWorld, state: EmulatorState) -> None:
    # given
    primary, second = world.harness.primary_id, world.harness.second_id
    state.add_event(primary, T0 + timedelta(days=10), T0 + timedelta(days=10, hours=1))
    state.add_event(primary, T0 + timedelta(days=59), T0 + timedelta(days=61))
    state.add_event(primary, T0 + timedelta(days=140), T0 + timedelta(days=140, hours=1))
    state.add_event(second, T0 + timedelta(days=100), T0 + timedelta(days=100, hours=1))
    # when
    busy = await world.harness.provider.get_busy([primary, second], T0, T0 + timedelta(days=150))
    # then
    assert world.calls["getSchedule"] == 3
    assert world.calls["calendarView"] == 3
    assert [(i.start, i.end) for i in busy.intervals[primary]] == [
        (T0 + timedelta(days=10), T0 + timedelta(days=10, hours=1)),
        (T0 + timedelta(days=59), T0 + timedelta(days=61)),
        (T0 + timedelta(days=140), T0 + timedelta(days=140, hours=1)),
    ]
    assert [(i.start, i.end) for i in busy.intervals[second]] == [
        (T0 + timedelta(days=100), T0 + timedelta(days=100, hours=1))
    ]


async def test_free_time_is_not_busy(world: MicrosoftWorld, state: EmulatorState) -> None:
    # given
    primary, second = world.harness.primary_id, world.harness.second_id
    state.add_event(primary, T0, T0 + timedelta(hours=1), busy=False)
    state.add_event(primary, T0 + timedelta(hours=2), T0 + timedelta(hours=3))
    state.add_event(second, T0, T0 + timedelta(hours=1), busy=False)
    # when
    busy = await world.harness.provider.get_busy([primary, second], T0, T0 + timedelta(days=1))
    # then
    assert [(i.start, i.end) for i in busy.intervals[primary]] == [(T0 + timedelta(hours=2), T0 + timedelta(hours=3))]
    assert busy.intervals[second] == []


async def test_access_lost_after_listing_is_named_per_calendar(world: MicrosoftWorld, state: EmulatorState) -> None:
    # given
    (shared,) = share_colleagues(state, 1)
    await world.harness.provider.list_calendars()
    state.lose_access(ACCOUNT, shared)
    state.lose_access(ACCOUNT, world.harness.second_id)
    # when / then
    with pytest.raises(CalendarAccessLost) as caught:
        await world.harness.provider.get_busy(
            [world.harness.primary_id, shared, world.harness.second_id], T0, T0 + timedelta(days=1)
        )
    assert caught.value.calendar_ids == (shared, world.harness.second_id)


async def test_emulator_enforces_get_schedule_limits(world: MicrosoftWorld, state: EmulatorState) -> None:
    # given
    access, _, _ = state.oauth.issue_tokens(ACCOUNT)
    url = f"{world.settings.microsoft_graph_url}/me/calendar/getSchedule"
    window = {"dateTime": "2026-12-07T00:00:00", "timeZone": "UTC"}
    too_long = {"dateTime": "2027-02-08T00:00:00", "timeZone": "UTC"}
    headers = {"Authorization": f"Bearer {access}"}
    async with httpx.AsyncClient() as client:
        # when
        many = await client.post(
            url,
            headers=headers,
            json={
                "schedules": [f"p{n}@contoso.test" for n in range(21)],
                "startTime": window,
                "endTime": {"dateTime": "2026-12-08T00:00:00", "timeZone": "UTC"},
            },
        )
        long = await client.post(
            url, headers=headers, json={"schedules": [ACCOUNT], "startTime": window, "endTime": too_long}
        )
    # then
    assert (many.status_code, many.json()["error"]["code"]) == (400, "ErrorMailboxDataArrayTooBig")
    assert (long.status_code, long.json()["error"]["code"]) == (400, "ErrorTimeIntervalTooBig")


async def test_emulator_answers_select_and_pages_of_up_to_1000_events(
    world: MicrosoftWorld, state: EmulatorState
) -> None:
    # given
    access, _, _ = state.oauth.issue_tokens(ACCOUNT)
    calendar = state.add_calendar(ACCOUNT, "Busy")
    for n in range(1001):
        state.add_event(calendar.id, T0 + timedelta(minutes=n), T0 + timedelta(minutes=n + 1))
    url = f"{world.settings.microsoft_graph_url}/me/calendars/{calendar.id}/calendarView"
    params = {
        "startDateTime": "2026-12-07T00:00:00Z",
        "endDateTime": "2026-12-09T00:00:00Z",
        "$select": "start,showAs",
        "$top": "1000",
    }
    async with httpx.AsyncClient() as client:
        # when
        first = (await client.get(url, params=params, headers={"Authorization": f"Bearer {access}"})).json()
        rest = (await client.get(first["@odata.nextLink"], headers={"Authorization": f"Bearer {access}"})).json()
    # then
    assert len(first["value"]) == 1000 and len(rest["value"]) == 1
    assert set(first["value"][0]) == {"@odata.etag", "id", "start", "showAs"}
    assert first["value"][0]["start"] == {"dateTime": "2026-12-07T09:00:00.0000000", "timeZone": "UTC"}
    assert set(rest["value"][0]) == {"@odata.etag", "id", "start", "showAs"}
    assert "@odata.nextLink" not in rest


async def test_emulator_availability_view_marks_every_busy_interval(
    world: MicrosoftWorld, state: EmulatorState
) -> None:
    # given
    access, _, _ = state.oauth.issue_tokens(ACCOUNT)
    primary = state.account(ACCOUNT).primary_calendar_id  # type: ignore[union-attr]
    for event in list(state.calendars[primary].events.values()):
        state.calendars[primary].events.pop(event.id)
    state.add_event(primary, T0 + timedelta(minutes=30), T0 + timedelta(minutes=90))  # slots 1 and 2
    state.add_event(primary, T0 + timedelta(hours=4), T0 + timedelta(hours=5))  # slot 5 only
    state.add_event(primary, T0 + timedelta(hours=6), T0 + timedelta(hours=7), busy=False)
    # when
    answer = await post_schedule(world, access, "2026-12-07T16:00:00")
    # then
    assert answer.json()["value"][0]["availabilityView"] == "02200200"


# events ----------------------------------------------------------------------------
async def test_events_carry_attendees_and_local_time(world: MicrosoftWorld, state: EmulatorState) -> None:
    # given
    draft = EventDraft(
        summary="Intro",
        start=T0,
        end=T0 + timedelta(minutes=45),
        attendees=[Attendee("contact@example.org", "Contact")],
        description="Booked via meetgraph",
        timezone="Europe/Berlin",
    )
    # when
    event_id = await world.harness.provider.create_event(world.harness.primary_id, draft)
    # then
    event = state.calendars[world.harness.primary_id].events[event_id]
    assert (event.start, event.end) == (T0, T0 + timedelta(minutes=45))
    assert event.invitations_sent
    assert event.description == "Booked via meetgraph"


async def test_emulator_answers_a_repeated_transaction_id_with_the_event_it_has(
    world: MicrosoftWorld, state: EmulatorState
) -> None:
    # given
    access, _, _ = state.oauth.issue_tokens(ACCOUNT)
    url = f"{world.settings.microsoft_graph_url}/me/calendars/{world.harness.primary_id}/events"
    body = {
        "subject": "Intro",
        "start": {"dateTime": "2026-12-07T09:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-12-07T10:00:00", "timeZone": "UTC"},
        "transactionId": "6f1c2f0e-8a8e-4b6a-9a3e-2d1f5c7b9e10",
    }
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {access}"}) as client:
        # when
        first = await client.post(url, json=body)
        second = await client.post(url, json={**body, "subject": "Intro (retry)"})
        plain = await client.post(url, json={k: v for k, v in body.items() if k != "transactionId"})
    # then
    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["transactionId"] == body["transactionId"]
    assert second.json()["subject"] == "Intro"
    assert "transactionId" not in plain.json()
    assert len(state.calendars[world.harness.primary_id].events) == 2


async def test_a_keyed_create_sends_the_key_as_transaction_id(world: MicrosoftWorld, state: EmulatorState) -> None:
    # given
    draft = EventDraft("Intro", T0, T0 + timedelta(minutes=30), key="6f1c2f0e-8a8e-4b6a-9a3e-2d1f5c7b9e10")
    # when
    event_id = await world.harness.provider.create_event(world.harness.primary_id, draft)
    # then
    event = state.calendars[world.harness.primary_id].events[event_id]
    assert event.properties == {"transactionId": "6f1c2f0e-8a8e-4b6a-9a3e-2d1f5c7b9e10"}


async def test_a_calendar_created_meanwhile_answers_the_409_with_that_calendar(
    world: MicrosoftWorld, state: EmulatorState
) -> None:
    # given: the provider has read the catalogue, then someone else creates the calendar
    await world.harness.provider.list_calendars()
    original = world.harness.provider._load_catalog

    async def catalogue_then_race() -> dict[str, object]:
        catalogue = await original()
        if not any(c.name == "CRM tasks" for c in state.calendars.values()):
            state.add_calendar(ACCOUNT, "CRM tasks", calendar_id="AAMkAGraced")
        return catalogue  # type: ignore[return-value]

    world.harness.provider._load_catalog = catalogue_then_race  # type: ignore[method-assign]
    # when
    created = await world.harness.provider.create_calendar("CRM tasks")
    # then
    assert created.id == "AAMkAGraced"
    assert world.calls["calendars.create"] == 1


# failures --------------------------------------------------------------------------
async def test_throttling_honours_retry_after(
    world: MicrosoftWorld, state: EmulatorState, sleeps: RecordedSleeps
) -> None:
    # given
    state.faults.fail_next = [429]
    state.faults.retry_after_seconds = 5
    # when
    email = await world.harness.provider.account_email()
    # then
    assert email == ACCOUNT
    assert sleeps.calls == [5]
    assert world.calls["me"] == 2


async def test_a_bad_request_is_not_retried(
    world: MicrosoftWorld, state: EmulatorState, sleeps: RecordedSleeps
) -> None:
    # given
    backwards = EventDraft(summary="Backwards", start=T0, end=T0 - timedelta(hours=1))
    # when / then
    with pytest.raises(ProviderRequestError):
        await world.harness.provider.create_event(world.harness.primary_id, backwards)
    assert world.calls["events.create"] == 1
    assert sleeps.calls == []


async def test_an_expired_token_is_refreshed_once(world: MicrosoftWorld, state: EmulatorState) -> None:
    # given
    state.oauth.expire_access_tokens()
    # when
    email = await world.harness.provider.account_email()
    # then
    assert email == ACCOUNT
    assert world.store.saves == 1
    assert not world.store.inactive


async def test_revoked_refresh_marks_the_connection_inactive(world: MicrosoftWorld, state: EmulatorState) -> None:
    # given
    state.faults.revoked = True
    # when / then
    with pytest.raises(ProviderAuthError):
        await world.harness.provider.list_calendars()
    assert world.store.inactive


async def test_provider_without_refresh_token_is_an_auth_error(
    world: MicrosoftWorld, state: EmulatorState, sleeps: RecordedSleeps
) -> None:
    # given
    access, _, lifetime = state.oauth.issue_tokens(ACCOUNT, with_refresh=False)
    token = world.store.token.__class__(
        access_token=access,
        refresh_token=None,
        expires_at=datetime.now(UTC) + timedelta(seconds=lifetime),
    )
    store = MemoryTokenStore(token)
    tokens = TokenManager(
        oauth_config(ProviderKind.OFFICE365, world.settings), store, token, lock=RefreshLocks().get("x")
    )
    provider = MicrosoftCalendarProvider(
        tokens,
        graph_url=world.settings.microsoft_graph_url,
        retry=RetryPolicy(sleep=sleeps),
    )
    state.oauth.expire_access_tokens()
    # when / then
    try:
        with pytest.raises(ProviderAuthError):
            await provider.account_email()
        assert store.inactive
    finally:
        await provider.aclose()


# busy semantics and personal accounts ----------------------------------------------
async def schedule_item_statuses(world: MicrosoftWorld, state: EmulatorState) -> list[str]:
    """The availabilityView, then each scheduleItem's status, of the account's 08:00-20:00 getSchedule."""
    access, _, _ = state.oauth.issue_tokens(ACCOUNT)
    answer = await post_schedule(world, access, "2026-12-07T20:00:00")
    info = answer.json()["value"][0]
    return [info["availabilityView"], *(item["status"] for item in info["scheduleItems"])]


async def test_emulator_writes_schedule_statuses_capitalised_with_their_digits(
    world: MicrosoftWorld, state: EmulatorState
) -> None:
    # given: 08:00 free, 09:00 tentative, 10:00 busy, 11:00 out of office, 12:00 working elsewhere
    for n, status in enumerate(["free", "tentative", "busy", "oof", "workingElsewhere"]):
        start = T0 - timedelta(hours=1) + timedelta(hours=n)
        state.add_event(world.harness.primary_id, start, start + timedelta(hours=1), show_as=status)
    # out of office over a busy 17:00-19:00: the stronger status shows where they overlap
    state.add_event(world.harness.primary_id, T0 + timedelta(hours=8), T0 + timedelta(hours=10), show_as="busy")
    state.add_event(world.harness.primary_id, T0 + timedelta(hours=9), T0 + timedelta(hours=10), show_as="oof")
    # when
    view, *statuses = await schedule_item_statuses(world, state)
    # then
    assert view == "012340000230"
    assert statuses == ["Free", "Tentative", "Busy", "Oof", "WorkingElsewhere", "Busy", "Oof"]


@pytest.mark.parametrize(("status", "blocks"), [("WorkingElsewhere", False), ("Free", False), ("Tentative", True)])
async def test_schedule_statuses_are_compared_case_insensitively(
    world: MicrosoftWorld, state: EmulatorState, status: str, blocks: bool
) -> None:
    # given: getSchedule writes "Free", "WorkingElsewhere" (capitalised); events write "free", "workingElsewhere"
    state.add_event(world.harness.primary_id, T0, T0 + timedelta(hours=1), show_as=status[0].lower() + status[1:])
    # when
    busy = await world.harness.provider.get_busy([world.harness.primary_id], T0, T0 + timedelta(days=1))
    # then
    assert world.calls["getSchedule"] == 1
    assert bool(busy.intervals[world.harness.primary_id]) is blocks


async def test_emulator_refuses_get_schedule_for_a_personal_account(
    world: MicrosoftWorld, state: EmulatorState
) -> None:
    # given
    state.account(ACCOUNT).personal = True  # type: ignore[union-attr]
    access, _, _ = state.oauth.issue_tokens(ACCOUNT)
    # when
    answer = await post_schedule(world, access, "2026-12-07T16:00:00")
    # then
    assert answer.status_code == 400
    assert "personal Microsoft accounts" in answer.json()["error"]["message"]


async def test_a_personal_account_reads_busy_time_from_the_calendar_view_once_refused(
    world: MicrosoftWorld, state: EmulatorState, sleeps: RecordedSleeps
) -> None:
    # given
    state.account(ACCOUNT).personal = True  # type: ignore[union-attr]
    primary, second = world.harness.primary_id, world.harness.second_id
    state.add_event(primary, T0, T0 + timedelta(hours=1), show_as="busy")
    state.add_event(primary, T0 + timedelta(hours=2), T0 + timedelta(hours=3), show_as="workingElsewhere")
    state.add_event(primary, T0 + timedelta(hours=4), T0 + timedelta(hours=5), show_as="oof")
    state.add_event(second, T0 + timedelta(hours=6), T0 + timedelta(hours=7), show_as="tentative")
    # when: two page views
    first = await world.harness.provider.get_busy([primary, second], T0, T0 + timedelta(days=1))
    again = await world.harness.provider.get_busy([primary, second], T0, T0 + timedelta(days=1))
    # then: getSchedule is asked once, never retried; then calendarView answers for every calendar
    for busy in (first, again):
        assert [(i.start, i.end) for i in busy.intervals[primary]] == [
            (T0, T0 + timedelta(hours=1)),
            (T0 + timedelta(hours=4), T0 + timedelta(hours=5)),
        ]
        assert [(i.start, i.end) for i in busy.intervals[second]] == [
            (T0 + timedelta(hours=6), T0 + timedelta(hours=7))
        ]
    assert world.calls["getSchedule"] == 1
    assert world.calls["calendarView"] == 4
    assert sleeps.calls == []


async def test_a_personal_account_reads_every_page_of_its_calendar_view(
    world: MicrosoftWorld, state: EmulatorState
) -> None:
    # given: more events than one calendarView page holds
    state.account(ACCOUNT).personal = True  # type: ignore[union-attr]
    primary = world.harness.primary_id
    for n in range(1200):
        start = T0 + timedelta(minutes=2 * n)
        state.add_event(primary, start, start + timedelta(minutes=1), show_as="busy")
    # when
    busy = await world.harness.provider.get_busy([primary], T0, T0 + timedelta(days=3))
    # then
    assert len(busy.intervals[primary]) == 1200
    assert world.calls["calendarView"] == 2


async def test_a_personal_account_is_known_by_its_user_principal_name(
    world: MicrosoftWorld, state: EmulatorState
) -> None:
    # given: Graph leaves `mail` empty for personal accounts
    state.account(ACCOUNT).personal = True  # type: ignore[union-attr]
    # when
    email = await world.harness.provider.account_email()
    # then
    assert email == ACCOUNT


async def test_a_personal_account_keeps_the_lost_access_rules(world: MicrosoftWorld, state: EmulatorState) -> None:
    # given
    state.account(ACCOUNT).personal = True  # type: ignore[union-attr]
    await world.harness.provider.list_calendars()
    state.lose_access(ACCOUNT, world.harness.second_id)
    # when / then
    with pytest.raises(CalendarAccessLost) as caught:
        await world.harness.provider.get_busy(
            [world.harness.primary_id, world.harness.second_id], T0, T0 + timedelta(days=1)
        )
    assert caught.value.calendar_ids == (world.harness.second_id,)
