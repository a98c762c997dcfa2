"""Google specifics: paging, free/busy chunking, invitations, error mapping, the emulator's wire format."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from emulators.google_wire import EVENT_ID_PATTERN
from emulators.state import AccessRole as EmulatorRole
from providers.base import (
    Attendee,
    CalendarAccessLost,
    EventDraft,
    ProviderRequestError,
    ProviderUnavailable,
)
from providers.google import GoogleCalendarProvider, google_event_id
from providers.http import RetryPolicy
from providers.oauth import MemoryTokenStore, OAuthClientConfig, OAuthToken, RefreshLocks, TokenManager
from scheduling.calendars import AccessRole
from tests.providers.harness import RecordedSleeps
from tests.providers.harness_google import ACCOUNT, GoogleWorld, google_world, provider_for

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
SPECIAL_ID = "en.usa#holiday@group.v.calendar.google.test"


@pytest.fixture
async def world() -> AsyncIterator[GoogleWorld]:
    async with google_world() as w:
        yield w


@pytest.fixture
def sleeps() -> RecordedSleeps:
    return RecordedSleeps()


@pytest.fixture
async def provider(world: GoogleWorld, sleeps: RecordedSleeps) -> AsyncIterator[GoogleCalendarProvider]:
    async with provider_for(world, RetryPolicy(attempts=4, total_seconds=30, sleep=sleeps)) as (p, _):
        yield p


def primary_id(world: GoogleWorld) -> str:
    account = world.state.account(ACCOUNT)
    assert account is not None
    return account.primary_calendar_id


async def api_call(world: GoogleWorld, method: str, path: str, **kwargs: object) -> httpx.Response:
    """A raw Calendar API call as the seeded account."""
    access, _, _ = world.state.oauth.issue_tokens(ACCOUNT)
    async with httpx.AsyncClient(base_url=world.settings.google_api_url) as client:
        return await client.request(
            method,
            path,
            headers={"Authorization": f"Bearer {access}"},
            **kwargs,  # type: ignore[arg-type]
        )


# calendarList -----------------------------------------------------------------
async def test_calendar_list_is_read_page_by_page(world: GoogleWorld, provider: GoogleCalendarProvider) -> None:
    # given
    for n in range(300):
        world.state.add_calendar(ACCOUNT, f"Project {n:03d}")
    # when
    calendars = await provider.list_calendars()
    # then
    assert len(calendars) == 304
    assert len({c.id for c in calendars}) == 304
    assert world.calls["calendarList.list"] == 2
    assert [c for c in calendars if c.is_primary] == [next(c for c in calendars if c.id == primary_id(world))]


async def test_emulator_calendar_list_honours_max_results_and_page_token(world: GoogleWorld) -> None:
    # when
    first = (await api_call(world, "GET", "/users/me/calendarList", params={"maxResults": 3})).json()
    second = (
        await api_call(
            world, "GET", "/users/me/calendarList", params={"maxResults": 3, "pageToken": first["nextPageToken"]}
        )
    ).json()
    # then
    assert first["kind"] == "calendar#calendarList"
    assert [i["kind"] for i in first["items"]] == ["calendar#calendarListEntry"] * 3
    assert first["items"][0]["primary"] is True
    assert len(second["items"]) == 1
    assert "nextPageToken" not in second and "nextSyncToken" in second
    roles = {i["accessRole"] for i in first["items"] + second["items"]}
    assert roles == {"owner", "reader", "freeBusyReader"}


async def test_lost_calendar_is_left_out_of_the_list(world: GoogleWorld, provider: GoogleCalendarProvider) -> None:
    # given
    lost = next(cid for cid, role in world.state.accounts[ACCOUNT].access.items() if role is EmulatorRole.READER)
    world.state.lose_access(ACCOUNT, lost)
    # when
    ids = {c.id for c in await provider.list_calendars()}
    # then
    assert lost not in ids
    assert primary_id(world) in ids


# freeBusy -------------------------------------------------------------------------
async def test_free_busy_for_120_calendars_is_sent_as_three_requests(
    world: GoogleWorld, provider: GoogleCalendarProvider
) -> None:
    # given
    ids = [world.state.add_calendar(ACCOUNT, f"Room {n}").id for n in range(120)]
    for n in (0, 49, 50, 119):
        world.state.add_event(ids[n], T0 + timedelta(hours=n), T0 + timedelta(hours=n, minutes=30))
    # when
    busy = await provider.get_busy(ids, T0, T0 + timedelta(days=7))
    # then
    assert world.calls["freebusy.query"] == 3
    assert set(busy.intervals) == set(ids)
    assert sum(len(spans) for spans in busy.intervals.values()) == 4
    assert [(i.start, i.end) for i in busy.intervals[ids[119]]] == [
        (T0 + timedelta(hours=119), T0 + timedelta(hours=119, minutes=30))
    ]


async def test_free_busy_over_200_days_is_split_into_90_day_windows_and_merged(
    world: GoogleWorld, provider: GoogleCalendarProvider
) -> None:
    # given: one event straddling the first 90-day boundary, one near the end
    calendar = primary_id(world)
    boundary = T0 + timedelta(days=90)
    world.state.add_event(calendar, boundary - timedelta(hours=1), boundary + timedelta(hours=1))
    world.state.add_event(calendar, T0 + timedelta(days=199), T0 + timedelta(days=199, hours=2))
    # when
    busy = await provider.get_busy([calendar], T0, T0 + timedelta(days=200))
    # then
    assert world.calls["freebusy.query"] == 3
    assert [(i.start, i.end) for i in busy.intervals[calendar]] == [
        (boundary - timedelta(hours=1), boundary + timedelta(hours=1)),
        (T0 + timedelta(days=199), T0 + timedelta(days=199, hours=2)),
    ]


async def test_free_busy_names_every_lost_calendar_across_chunks(
    world: GoogleWorld, provider: GoogleCalendarProvider
) -> None:
    # given
    ids = [world.state.add_calendar(ACCOUNT, f"Room {n}").id for n in range(60)]
    world.state.lose_access(ACCOUNT, ids[3])
    world.state.lose_access(ACCOUNT, ids[55])
    # when / then
    with pytest.raises(CalendarAccessLost) as caught:
        await provider.get_busy(ids, T0, T0 + timedelta(days=1))
    assert caught.value.calendar_ids == (ids[3], ids[55])


async def test_free_busy_only_share_can_be_queried(world: GoogleWorld, provider: GoogleCalendarProvider) -> None:
    # given
    share = next(cid for cid, role in world.state.accounts[ACCOUNT].access.items() if role is EmulatorRole.FREE_BUSY)
    world.state.add_event(share, T0, T0 + timedelta(hours=2), "Private")
    # when
    busy = await provider.get_busy([share], T0, T0 + timedelta(days=1))
    # then
    assert [(i.start, i.end) for i in busy.intervals[share]] == [(T0, T0 + timedelta(hours=2))]


async def test_emulator_free_busy_wire_format(world: GoogleWorld) -> None:
    # given
    calendar = primary_id(world)
    world.state.add_event(calendar, T0, T0 + timedelta(hours=1))
    body = {
        "timeMin": "2026-12-07T00:00:00Z",
        "timeMax": "2026-12-08T00:00:00Z",
        "items": [{"id": calendar}, {"id": "missing@group.calendar.google.com"}],
    }
    # when
    answer = (await api_call(world, "POST", "/freeBusy", json=body)).json()
    # then
    assert answer["kind"] == "calendar#freeBusy"
    assert answer["calendars"][calendar] == {"busy": [{"start": "2026-12-07T09:00:00Z", "end": "2026-12-07T10:00:00Z"}]}
    assert answer["calendars"]["missing@group.calendar.google.com"] == {
        "errors": [{"domain": "global", "reason": "notFound"}],
        "busy": [],
    }


@pytest.mark.parametrize(
    ("items", "days", "reason"),
    [(51, 1, "tooManyCalendarsRequested"), (1, 91, "timeRangeTooLong"), (1, 0, "timeRangeEmpty")],
)
async def test_emulator_free_busy_rejects_what_google_rejects(
    world: GoogleWorld, items: int, days: int, reason: str
) -> None:
    # given
    body = {
        "timeMin": "2026-12-07T00:00:00Z",
        "timeMax": (datetime(2026, 12, 7, tzinfo=UTC) + timedelta(days=days)).isoformat(),
        "items": [{"id": primary_id(world)}] * items,
    }
    # when
    response = await api_call(world, "POST", "/freeBusy", json=body)
    # then
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 400
    assert error["errors"][0]["reason"] == reason


# events -------------------------------------------------------------------------------
async def test_event_is_created_with_invitations_in_a_calendar_whose_id_needs_encoding(
    world: GoogleWorld, provider: GoogleCalendarProvider
) -> None:
    # given
    world.state.add_calendar(ACCOUNT, "Holidays", calendar_id=SPECIAL_ID)
    draft = EventDraft(
        summary="Intro",
        start=T0,
        end=T0 + timedelta(minutes=30),
        attendees=[Attendee("guest@example.org", "Guest")],
        timezone="Europe/Berlin",
    )
    # when
    event_id = await provider.create_event(SPECIAL_ID, draft)
    # then
    event = world.state.calendars[SPECIAL_ID].events[event_id]
    assert event.invitations_sent
    assert (event.start, event.end) == (T0, T0 + timedelta(minutes=30))
    assert event.attendees == ["guest@example.org"]


def test_event_ids_derived_from_keys_are_valid_google_ids() -> None:
    # when
    ids = {google_event_id(str(uuid.uuid4())) for _ in range(50)}
    other = google_event_id("not-a-uuid")
    # then
    assert len(ids) == 50
    assert all(EVENT_ID_PATTERN.fullmatch(i) and len(i) == 26 for i in ids)
    assert EVENT_ID_PATTERN.fullmatch(other) and google_event_id("not-a-uuid") == other
    assert google_event_id("6F1C2F0E-8A8E-4B6A-9A3E-2D1F5C7B9E10") == google_event_id(
        "6f1c2f0e-8a8e-4b6a-9a3e-2d1f5c7b9e10"
    )


@pytest.mark.parametrize("event_id", ["abc", "has-dash-0000", "UPPERCASE00", "wxyz00000", "x" * 1025, 12345])
async def test_emulator_refuses_event_ids_google_refuses(world: GoogleWorld, event_id: object) -> None:
    # given
    body = {"id": event_id, "start": {"dateTime": "2026-12-07T09:00:00Z"}, "end": {"dateTime": "2026-12-07T10:00:00Z"}}
    # when
    response = await api_call(world, "POST", f"/calendars/{primary_id(world)}/events", json=body)
    # then
    assert response.status_code == 400
    assert response.json()["error"]["errors"][0] == {
        "domain": "global",
        "reason": "invalid",
        "message": "Invalid resource id value.",
    }
    assert not world.state.calendars[primary_id(world)].events


async def test_emulator_answers_a_used_event_id_with_409_duplicate_even_once_deleted(world: GoogleWorld) -> None:
    # given
    calendar = primary_id(world)
    body = {"id": "0123456789abcdefghijklmnopqrstuv", "start": {"dateTime": "2026-12-07T09:00:00Z"}}
    body["end"] = {"dateTime": "2026-12-07T10:00:00Z"}
    created = await api_call(world, "POST", f"/calendars/{calendar}/events", json=body)
    # when
    again = await api_call(world, "POST", f"/calendars/{calendar}/events", json=body)
    deleted = await api_call(world, "DELETE", f"/calendars/{calendar}/events/{body['id']}")
    deleted_again = await api_call(world, "DELETE", f"/calendars/{calendar}/events/{body['id']}")
    after_delete = await api_call(world, "POST", f"/calendars/{calendar}/events", json=body)
    read_back = await api_call(world, "GET", f"/calendars/{calendar}/events/{body['id']}")
    # then
    assert created.status_code == 200 and created.json()["id"] == body["id"]
    for duplicate in (again, after_delete):
        assert duplicate.status_code == 409
        assert duplicate.json()["error"]["errors"][0]["reason"] == "duplicate"
        assert duplicate.json()["error"]["message"] == "The requested identifier already exists."
    assert deleted.status_code == 204
    assert deleted_again.status_code == 410
    assert read_back.json()["status"] == "cancelled"
    assert len(world.state.calendars[calendar].events) == 1


async def test_a_keyed_create_is_inserted_under_the_derived_id_and_a_409_is_read_back(
    world: GoogleWorld, provider: GoogleCalendarProvider
) -> None:
    # given
    key = str(uuid.uuid4())
    draft = EventDraft("Call", T0, T0 + timedelta(minutes=30), key=key)
    # when
    first = await provider.create_event(primary_id(world), draft)
    second = await provider.create_event(primary_id(world), draft)
    # then
    assert first == second == google_event_id(key)
    assert world.calls["events.insert"] == 2
    assert world.calls["events.get"] == 1


async def test_update_replaces_the_event(world: GoogleWorld, provider: GoogleCalendarProvider) -> None:
    # given
    calendar = primary_id(world)
    draft = EventDraft("Call", T0, T0 + timedelta(minutes=30), description="first", key=str(uuid.uuid4()))
    event_id = await provider.create_event(calendar, draft)
    # when
    await provider.update_event(calendar, event_id, EventDraft("Call", T0, T0 + timedelta(hours=1)))
    # then
    event = world.state.calendars[calendar].events[event_id]
    assert (event.end, event.description) == (T0 + timedelta(hours=1), None)
    assert world.calls["events.update"] == 1


async def test_update_and_delete_send_updates_and_a_second_delete_is_fine(
    world: GoogleWorld, provider: GoogleCalendarProvider
) -> None:
    # given
    calendar = primary_id(world)
    event_id = await provider.create_event(calendar, EventDraft("Call", T0, T0 + timedelta(minutes=30)))
    event = world.state.calendars[calendar].events[event_id]
    event.invitations_sent = False
    # when
    moved = EventDraft("Call", T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    await provider.update_event(calendar, event_id, moved)
    # then
    assert event.invitations_sent and event.start == T0 + timedelta(hours=1)
    # when
    await provider.delete_event(calendar, event_id)
    await provider.delete_event(calendar, event_id)
    # then
    assert event.cancelled


async def test_event_calls_on_a_lost_calendar_raise_access_lost(
    world: GoogleWorld, provider: GoogleCalendarProvider
) -> None:
    # given
    calendar = world.state.add_calendar(ACCOUNT, "Old team").id
    event_id = await provider.create_event(calendar, EventDraft("Call", T0, T0 + timedelta(minutes=30)))
    world.state.lose_access(ACCOUNT, calendar)
    draft = EventDraft("Call", T0, T0 + timedelta(hours=1))
    # when / then
    with pytest.raises(CalendarAccessLost):
        await provider.create_event(calendar, draft)
    with pytest.raises(CalendarAccessLost):
        await provider.update_event(calendar, event_id, draft)
    with pytest.raises(CalendarAccessLost):
        await provider.delete_event(calendar, event_id)


async def test_update_of_a_missing_event_is_a_request_error(
    world: GoogleWorld, provider: GoogleCalendarProvider
) -> None:
    # when / then
    with pytest.raises(ProviderRequestError):
        await provider.update_event(primary_id(world), "nosuchevent", EventDraft("Call", T0, T0 + timedelta(hours=1)))


async def test_free_busy_share_cannot_take_events(
    world: GoogleWorld, provider: GoogleCalendarProvider, sleeps: RecordedSleeps
) -> None:
    # given
    share = next(cid for cid, role in world.state.accounts[ACCOUNT].access.items() if role is EmulatorRole.FREE_BUSY)
    # when / then
    with pytest.raises(ProviderRequestError, match="writer access"):
        await provider.create_event(share, EventDraft("Call", T0, T0 + timedelta(minutes=30)))
    assert sleeps.calls == []
    response = await api_call(world, "GET", f"/calendars/{share}/events")
    assert response.json()["error"]["errors"][0]["reason"] == "requiredAccessLevel"


async def test_create_calendar_returns_an_owned_secondary_calendar(
    world: GoogleWorld, provider: GoogleCalendarProvider
) -> None:
    # when
    created = await provider.create_calendar("CRM tasks")
    # then
    assert created.access_role is AccessRole.OWNER and not created.is_primary
    assert created.id.endswith("@group.calendar.google.com")
    assert world.state.calendars[created.id].name == "CRM tasks"


# retries --------------------------------------------------------------------------------
async def test_bad_request_is_not_retried(
    world: GoogleWorld, provider: GoogleCalendarProvider, sleeps: RecordedSleeps
) -> None:
    # given
    world.state.faults.fail_next = [400]
    # when / then
    with pytest.raises(ProviderRequestError):
        await provider.list_calendars()
    assert sleeps.calls == []
    assert world.calls["calendarList.list"] == 1


async def test_403_rate_limit_exceeded_is_retried(
    world: GoogleWorld, provider: GoogleCalendarProvider, sleeps: RecordedSleeps
) -> None:
    # given
    world.state.faults.fail_next = [403, 403]
    # when
    calendars = await provider.list_calendars()
    # then
    assert calendars
    assert len(sleeps.calls) == 2
    assert world.calls["calendarList.list"] == 3


# answers the emulator cannot produce ---------------------------------------------------------
def scripted_provider(answer: dict[str, object]) -> GoogleCalendarProvider:
    token = OAuthToken("at", "rt", datetime.now(UTC) + timedelta(hours=1))
    config = OAuthClientConfig("id", "secret", "https://a.test/auth", "https://a.test/token", ("openid",))
    tokens = TokenManager(config, MemoryTokenStore(token), token, lock=RefreshLocks().get("x"))
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=answer))
    return GoogleCalendarProvider(
        tokens,
        api_url="https://calendar.test/calendar/v3",
        userinfo_url="https://calendar.test/v1/userinfo",
        retry=RetryPolicy(sleep=RecordedSleeps()),
        client=httpx.AsyncClient(transport=transport),
    )


async def test_deleted_and_roleless_calendar_list_entries_are_skipped() -> None:
    # given
    provider = scripted_provider(
        {
            "items": [
                {"id": "a", "summary": "A", "accessRole": "owner", "primary": True},
                {"id": "b", "summary": "B", "accessRole": "reader", "deleted": True},
                {"id": "c", "summary": "C", "accessRole": "none"},
                {"id": "d", "summary": "D", "summaryOverride": "Dee", "accessRole": "writer"},
            ]
        }
    )
    # when
    calendars = await provider.list_calendars()
    # then
    assert [(c.id, c.name, c.access_role) for c in calendars] == [
        ("a", "A", AccessRole.OWNER),
        ("d", "Dee", AccessRole.WRITER),
    ]


async def test_internal_error_for_a_calendar_is_unavailable_not_lost() -> None:
    # given
    provider = scripted_provider(
        {
            "kind": "calendar#freeBusy",
            "calendars": {
                "a": {"busy": []},
                "b": {"errors": [{"domain": "global", "reason": "internalError"}], "busy": []},
            },
        }
    )
    # when / then
    with pytest.raises(ProviderUnavailable):
        await provider.get_busy(["a", "b"], T0, T0 + timedelta(days=1))
