"""Events are written in the page's (or user's) time zone: IANA names for Google, Windows ids for Graph and EWS,
at the exact instant, and each emulator keeps, shows and validates the zone as its real service does."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import httpx
import pytest
from exchangelib import EWSTimeZone
from hypothesis import given, settings
from hypothesis import strategies as st

from db.models import Meeting
from emulators.windows_zones import WINDOWS_TO_IANA
from providers.base import EventDraft, ProviderRequestError
from providers.google import GoogleCalendarProvider
from providers.microsoft import MicrosoftCalendarProvider
from providers.windows_zones import WireZone, iana_zone, windows_zone
from resolvers import calendar_writes
from tests.providers.harness import Harness
from tests.providers.test_exchange import connected, exchange_server
from tests.utils.calendars import ACCOUNTS, live_events, primary_id, state_of
from tests.utils.connection import connect
from tests.utils.emulators import World
from tests.utils.graphql import GraphQLClient
from tests.utils.meeting import CREATE_CRM_MEETING, book
from tests.utils.page import create_page
from tests.utils.settings import save_settings
from tests.utils.task import CREATE_TASK
from tests.utils.user import create_user

BERLIN_SUMMER = datetime(2026, 7, 1, 8, tzinfo=UTC)  # 10:00 CEST (+02:00)
BERLIN_WINTER = datetime(2026, 12, 7, 9, tzinfo=UTC)  # 10:00 CET (+01:00)
CASES = [
    ("Europe/Berlin", BERLIN_SUMMER, "Europe/Berlin", "10:00"),
    ("Europe/Berlin", BERLIN_WINTER, "Europe/Berlin", "10:00"),
    ("America/New_York", datetime(2026, 12, 7, 15, tzinfo=UTC), "America/New_York", "10:00"),
    ("Asia/Kolkata", datetime(2026, 12, 7, 4, 30, tzinfo=UTC), "Asia/Kolkata", "10:00"),
    # CLDR files Troll (+00:00, +02:00 in summer) under W. Europe Standard Time: in winter they differ, so UTC
    ("Antarctica/Troll", BERLIN_WINTER, "UTC", "09:00"),
]
LICENSED = {"hub": "SALES", "tier": "PROFESSIONAL", "paidSeat": True}


def same_rules(a: str, b: str, moment: datetime) -> bool:
    return moment.astimezone(ZoneInfo(a)).utcoffset() == moment.astimezone(ZoneInfo(b)).utcoffset()


# the mapping, pure ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("zone", "moment", "windows_id", "wall"),
    [
        ("Europe/Berlin", BERLIN_SUMMER, "W. Europe Standard Time", "2026-07-01T10:00:00"),
        ("Europe/Berlin", BERLIN_WINTER, "W. Europe Standard Time", "2026-12-07T10:00:00"),
        ("America/New_York", datetime(2026, 7, 1, 14, tzinfo=UTC), "Eastern Standard Time", "2026-07-01T10:00:00"),
        ("Asia/Kolkata", datetime(2026, 7, 1, 4, 30, tzinfo=UTC), "India Standard Time", "2026-07-01T10:00:00"),
        ("UTC", BERLIN_SUMMER, "UTC", "2026-07-01T08:00:00"),
        ("Antarctica/Troll", BERLIN_SUMMER, "W. Europe Standard Time", "2026-07-01T10:00:00"),
        ("Antarctica/Troll", BERLIN_WINTER, "UTC", "2026-12-07T09:00:00"),
        ("Mars/Olympus_Mons", BERLIN_SUMMER, "UTC", "2026-07-01T08:00:00"),
    ],
)
def test_windows_zone_names_the_id_and_the_wall_clock_time(
    zone: str, moment: datetime, windows_id: str, wall: str
) -> None:
    # when
    wire = windows_zone(zone, (moment,))
    # then
    assert (wire.name, wire.wall_clock(moment).isoformat()) == (windows_id, wall)


def test_zones_without_a_windows_equivalent_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    # when
    with caplog.at_level(logging.WARNING, logger="providers.windows_zones"):
        troll = windows_zone("Antarctica/Troll", (BERLIN_SUMMER, BERLIN_WINTER))
        unknown = iana_zone("Mars/Olympus_Mons")
    # then
    assert (troll.name, unknown.name) == ("UTC", "UTC")
    assert "Antarctica/Troll" in caplog.text and "Mars/Olympus_Mons" in caplog.text


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(sorted(available_timezones() - {"localtime"})),
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31), timezones=st.just(UTC)),
)
def test_the_wall_clock_time_read_in_the_windows_zone_is_the_same_instant(zone: str, moment: datetime) -> None:
    # given: a Windows server reads the wall-clock time in its own rules for the id (the emulators' CLDR table)
    wire = windows_zone(zone, (moment,))
    rules = ZoneInfo(WINDOWS_TO_IANA[wire.name])
    # when
    read_back = wire.wall_clock(moment).replace(tzinfo=rules)
    # then: exact, also for zones written in UTC (skipped wall-clock times in a DST gap cannot occur)
    assert read_back.astimezone(UTC) == moment


def test_a_job_payload_without_a_zone_writes_in_utc() -> None:
    # given: a write job enqueued before zones were carried in the payload; then
    assert calendar_writes._payload_zone({"meeting_id": "x"}) == "UTC"
    assert calendar_writes._payload_zone({"meeting_id": "x", "timezone": "Europe/Berlin"}) == "Europe/Berlin"


# each provider against its emulator -----------------------------------------------------------------------
@pytest.mark.parametrize(("zone", "start", "kept", "local_start"), CASES)
async def test_events_are_kept_in_the_written_zone_at_the_exact_instant(
    harness: Harness, zone: str, start: datetime, kept: str, local_start: str
) -> None:
    # given
    draft = EventDraft("Intro", start, start + timedelta(minutes=30), timezone=zone)
    # when
    await harness.provider.create_event(harness.primary_id, draft)
    # then: Google takes any IANA name; Graph and EWS the zones Windows has
    kept = zone if harness.name == "google" else kept
    (event,) = harness.live_events(harness.primary_id)
    assert (event.start, event.end) == (start, start + timedelta(minutes=30))
    assert same_rules(event.timezone, kept, start) and same_rules(event.timezone, kept, start + timedelta(days=180))
    assert event.start.astimezone(ZoneInfo(event.timezone)).strftime("%H:%M") == local_start


async def berlin_event(harness: Harness, start: datetime) -> str:
    draft = EventDraft("Intro", start, start + timedelta(minutes=30), timezone="Europe/Berlin")
    return await harness.provider.create_event(harness.primary_id, draft)


async def test_graph_answers_the_event_in_utc_or_the_preferred_zone(harness: Harness) -> None:
    if not isinstance(harness.provider, MicrosoftCalendarProvider):
        pytest.skip("Graph only")
    provider = harness.provider
    event_id = await berlin_event(harness, BERLIN_SUMMER)
    url = f"{provider.graph_url}/me/events/{event_id}"
    # when
    plain = (await provider._request("GET", url)).json()
    preferred = (
        await provider._request("GET", url, headers={"Prefer": 'outlook.timezone="W. Europe Standard Time"'})
    ).json()
    refused = await provider._request("GET", url, headers={"Prefer": 'outlook.timezone="Mars Standard Time"'})
    # then
    assert plain["start"] == {"dateTime": "2026-07-01T08:00:00.0000000", "timeZone": "UTC"}
    assert plain["originalStartTimeZone"] == plain["originalEndTimeZone"] == "W. Europe Standard Time"
    assert preferred["start"] == {"dateTime": "2026-07-01T10:00:00.0000000", "timeZone": "W. Europe Standard Time"}
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "TimeZoneNotSupportedException"


async def test_google_answers_the_event_with_its_zone(harness: Harness) -> None:
    if not isinstance(harness.provider, GoogleCalendarProvider):
        pytest.skip("Google only")
    provider = harness.provider
    event_id = await berlin_event(harness, BERLIN_WINTER)
    # when
    found = await provider._json("GET", provider._calendar_url(harness.primary_id, "events", event_id))
    # then
    assert found["start"] == {"dateTime": "2026-12-07T09:00:00Z", "timeZone": "Europe/Berlin"}


async def test_ews_answers_the_item_with_its_windows_zone(harness: Harness) -> None:
    if harness.name != "exchange":
        pytest.skip("EWS only")
    from providers.exchange.provider import ExchangeCalendarProvider

    assert isinstance(harness.provider, ExchangeCalendarProvider)
    draft = EventDraft("Intro", BERLIN_SUMMER, BERLIN_SUMMER + timedelta(minutes=30), timezone="America/New_York")
    await harness.provider.create_event(harness.primary_id, draft)
    account = harness.provider._ews()

    def read() -> list[object]:
        return list(account.calendar.all().only("start", "_start_timezone", "_end_timezone"))

    # when
    (item,) = await harness.provider._run(read)
    # then
    assert item._start_timezone == item._end_timezone == EWSTimeZone("America/New_York")  # type: ignore[attr-defined]
    assert item._start_timezone.ms_id == "Eastern Standard Time"  # type: ignore[attr-defined]
    assert item.start == BERLIN_SUMMER  # type: ignore[attr-defined]


def server_said(error: BaseException) -> str:
    """The EWS error (as `Code: message`) behind a provider error, from its chain of causes."""
    cause = error.__cause__
    while cause is not None and not type(cause).__name__.startswith("Error"):
        cause = cause.__cause__
    assert cause is not None, f"no EWS error behind {error!r}"
    return f"{type(cause).__name__}: {cause}"


REFUSALS = {
    "google": "Invalid time zone definition for start time.",
    "microsoft": "A valid TimeZone value must be specified. The following TimeZone value is not supported: "
    "'Mars Standard Time'.",
    "exchange": "ErrorTimeZone: The specified time zone isn't valid.",
}


async def test_each_service_refuses_an_unknown_zone_in_its_own_words(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a zone name no service knows, sent as it is
    raw = WireZone("Mars Standard Time", ZoneInfo("UTC"))
    monkeypatch.setattr("providers.google.iana_zone", lambda *_: raw)
    monkeypatch.setattr("providers.microsoft.windows_zone", lambda *_: raw)
    monkeypatch.setattr("providers.exchange.provider.windows_zone", lambda *_: raw)
    draft = EventDraft("Intro", BERLIN_WINTER, BERLIN_WINTER + timedelta(minutes=30))
    # when
    with pytest.raises(ProviderRequestError) as caught:
        await harness.provider.create_event(harness.primary_id, draft)
    # then: Google 400 invalid, Graph 400 TimeZoneNotSupportedException, EWS ErrorTimeZone (which the provider
    # tells without the server's words, so they are read from the cause it keeps)
    said = server_said(caught.value) if harness.name == "exchange" else caught.value.message
    assert said.endswith(REFUSALS[harness.name])
    assert harness.live_events(harness.primary_id) == []


# through the API ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("provider", ["GOOGLE", "OFFICE365", "EXCHANGE"])
async def test_a_booking_is_written_in_the_pages_zone(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, provider: str
) -> None:
    # given: FakeClock is Tuesday 2026-12-01 08:00 UTC; Wednesday 10:00 in New York is 15:00 UTC
    slot = datetime(2026, 12, 2, 15, tzinfo=UTC)
    _, token = await create_user(gql, "ada@example.com")
    await connect(gql, http, token, provider)
    await create_page(gql, token, name="Intro", slug="intro", timezone="America/New_York")
    state = state_of(world, provider)
    # when
    result = await book(gql, "intro", slot)
    # then
    assert result["__typename"] == "BookMeetingSuccess", result
    (event,) = live_events(state, primary_id(state, ACCOUNTS[provider]))
    assert (event.start, event.end) == (slot, slot + timedelta(minutes=30))
    assert event.timezone == "America/New_York"


async def test_crm_meetings_and_tasks_are_written_in_the_users_zone(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com", timezone="Asia/Kolkata", **LICENSED)
    await connect(gql, http, token, "GOOGLE")
    await save_settings(gql, token, taskSync=True)
    start = datetime(2026, 12, 3, 14, tzinfo=UTC)
    meeting = {
        "contactEmail": "paul@customer.example",
        "title": "Renewal",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
    }
    # when
    logged = await gql(CREATE_CRM_MEETING, {"input": meeting}, token)
    task = await gql(CREATE_TASK, {"input": {"title": "Call back", "due": "2026-12-03T10:00:00Z"}}, token)
    # then
    assert logged["createCrmMeeting"]["__typename"] == "MeetingSuccess", logged
    assert task["createTask"]["task"]["synced"] is True, task
    zones = {e.summary: e.timezone for c in world.google.calendars.values() for e in c.events.values()}
    assert zones["Renewal"] == zones["Task: Call back"] == "Asia/Kolkata"


def test_a_meeting_draft_carries_the_zone() -> None:
    meeting = Meeting(
        user_id=uuid.uuid4(),
        start=BERLIN_SUMMER,
        end=BERLIN_SUMMER + timedelta(minutes=30),
        contact_email="c@example.org",
    )
    assert calendar_writes.draft_for(meeting, "Europe/Berlin").timezone == "Europe/Berlin"
    assert calendar_writes.draft_for(meeting).timezone == "UTC"


@pytest.mark.parametrize("server_version", ["Exchange2010_SP2", "Exchange2016"])
async def test_exchange_2010_sp2_and_later_take_the_windows_zone(server_version: str) -> None:
    with exchange_server(server_version) as server:
        provider = await connected(server)
        start = datetime(2026, 7, 1, 4, 30, tzinfo=UTC)  # 10:00 in Kolkata (+05:30)
        draft = EventDraft("Intro", start, start + timedelta(minutes=45), timezone="Asia/Kolkata")
        # when
        await provider.create_event(server.account.primary_calendar_id, draft)
        await provider.aclose()
    # then: StartTimeZone Id="India Standard Time", whose golden zone CLDR names Asia/Calcutta
    (event,) = server.state.live_events(server.account.primary_calendar_id)
    assert (event.start, event.end, event.timezone) == (start, start + timedelta(minutes=45), "Asia/Calcutta")
