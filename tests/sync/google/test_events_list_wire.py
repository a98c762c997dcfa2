"""What the Google emulator's events.list answers on the wire: pages and their tokens, sync tokens and the
parameters Google refuses beside them, the 410 body, deleted events in a delta, changes made while paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.providers.harness_google import GoogleWorld
from tests.sync.google.conftest import api_call, primary_id

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def events_path(world: GoogleWorld) -> str:
    return f"/calendars/{primary_id(world)}/events"


def seed(world: GoogleWorld, count: int) -> None:
    for n in range(count):
        world.state.add_event(primary_id(world), T0 + timedelta(hours=n), T0 + timedelta(hours=n, minutes=30), f"e{n}")


async def list_all(
    world: GoogleWorld, params: dict[str, str]
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Every page of a listing: the pages' bodies and all items."""
    pages: list[dict[str, object]] = []
    items: list[dict[str, object]] = []
    token: str | None = None
    while True:
        response = await api_call(
            world, "GET", events_path(world), params={**params, **({"pageToken": token} if token else {})}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body)
        items.extend(body["items"])
        token = body.get("nextPageToken")
        if token is None:
            return pages, items


async def test_pages_hold_max_results_with_a_page_token_on_all_but_the_last(world: GoogleWorld) -> None:
    # given
    seed(world, 600)
    # when
    pages, items = await list_all(world, {"singleEvents": "true"})
    # then
    assert [len(p["items"]) for p in pages] == [250, 250, 100]  # type: ignore[arg-type]
    assert ["nextPageToken" in p for p in pages] == [True, True, False]
    assert ["nextSyncToken" in p for p in pages] == [False, False, True]
    assert len({i["id"] for i in items}) == 600
    assert all(p["timeZone"] == "UTC" for p in pages)
    assert all(isinstance(i["etag"], str) and isinstance(i["updated"], str) for i in items)


@pytest.mark.parametrize(("asked", "expected"), [("10", 10), ("5000", 2500)])
async def test_max_results_is_honoured_up_to_2500(world: GoogleWorld, asked: str, expected: int) -> None:
    # given
    seed(world, 2600)
    # when
    response = await api_call(world, "GET", events_path(world), params={"maxResults": asked})
    # then
    assert len(response.json()["items"]) == expected


@pytest.mark.parametrize(
    "extra",
    [
        {"timeMin": "2026-12-01T00:00:00Z"},
        {"timeMax": "2026-12-01T00:00:00Z"},
        {"q": "lunch"},
        {"orderBy": "startTime"},
        {"iCalUID": "x@google.com"},
        {"updatedMin": "2026-12-01T00:00:00Z"},
        {"privateExtendedProperty": "a=b"},
        {"showDeleted": "false"},
    ],
)
async def test_a_sync_token_with_a_filter_is_400(world: GoogleWorld, extra: dict[str, str]) -> None:
    # given
    pages, _ = await list_all(world, {})
    token = str(pages[-1]["nextSyncToken"])
    # when
    response = await api_call(world, "GET", events_path(world), params={"syncToken": token, **extra})
    # then
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT" and error["errors"][0]["reason"] == "invalid"


@pytest.mark.parametrize("token", ["garbage", "CPgarbage", ""])
async def test_a_garbled_or_expired_token_is_410_full_sync_required(world: GoogleWorld, token: str) -> None:
    # given
    if not token:
        pages, _ = await list_all(world, {})
        token = str(pages[-1]["nextSyncToken"])
        world.state.expire_sync_state(primary_id(world))
    # when
    response = await api_call(world, "GET", events_path(world), params={"syncToken": token})
    # then
    assert response.status_code == 410
    error = response.json()["error"]
    assert error["errors"][0]["reason"] == "fullSyncRequired"
    assert error["message"] == "Sync token is no longer valid, a full sync is required."


async def test_a_delta_lists_a_deleted_event_by_id_and_status_only(world: GoogleWorld) -> None:
    # given
    gone = world.state.add_event(primary_id(world), T0, T0 + timedelta(hours=1), "gone")
    pages, _ = await list_all(world, {})
    gone.cancelled = True
    # when
    _, items = await list_all(world, {"syncToken": str(pages[-1]["nextSyncToken"])})
    # then
    assert [{k: v for k, v in i.items() if k not in ("kind", "etag")} for i in items] == [
        {"id": gone.id, "status": "cancelled"}
    ]


async def test_a_change_made_while_paging_is_in_the_next_delta(world: GoogleWorld) -> None:
    # given
    seed(world, 300)
    first = await api_call(world, "GET", events_path(world), params={"maxResults": "250"})
    late = next(e for e in world.state.live_events(primary_id(world)) if e.summary == "e0")
    # when
    late.start, late.end = T0 + timedelta(days=400), T0 + timedelta(days=400, hours=1)  # from page 1 to after page 2
    rest = await api_call(
        world, "GET", events_path(world), params={"maxResults": "250", "pageToken": first.json()["nextPageToken"]}
    )
    _, delta = await list_all(world, {"syncToken": rest.json()["nextSyncToken"]})
    # then
    listed = [i["id"] for i in first.json()["items"] + rest.json()["items"]]
    assert set(listed) == {e.id for e in world.state.live_events(primary_id(world))}  # keyset pages skip nothing
    assert [i["id"] for i in delta] == [late.id]


async def test_a_page_token_of_another_request_is_400(world: GoogleWorld) -> None:
    # given
    seed(world, 20)
    first = await api_call(world, "GET", events_path(world), params={"maxResults": "10"})
    # when
    response = await api_call(
        world,
        "GET",
        events_path(world),
        params={"maxResults": "10", "singleEvents": "true", "pageToken": first.json()["nextPageToken"]},
    )
    # then
    assert response.status_code == 400


async def test_events_carry_source_organizer_and_self_flags(world: GoogleWorld) -> None:
    # given
    event = world.state.add_event(primary_id(world), T0, T0 + timedelta(hours=1), attendees=["lead@example.test"])
    event.organizer = "boss@example.test"
    event.created_by_app = "Calendly"
    # when
    _, items = await list_all(world, {})
    # then
    (item,) = items
    assert item["organizer"] == {"email": "boss@example.test"}
    assert item["source"] == {"title": "Calendly", "url": "https://calendly.example/events"}
    assert item["attendees"] == [{"email": "lead@example.test", "responseStatus": "needsAction"}]


async def test_an_all_day_event_is_written_and_listed_as_dates_in_the_calendars_zone(world: GoogleWorld) -> None:
    # given
    world.state.calendars[primary_id(world)].timezone = "America/New_York"
    # when
    created = await api_call(
        world,
        "POST",
        events_path(world),
        json={"summary": "offsite", "start": {"date": "2026-12-08"}, "end": {"date": "2026-12-09"}},
    )
    pages, items = await list_all(world, {})
    # then
    assert created.status_code == 200, created.text
    (event,) = world.state.live_events(primary_id(world))
    assert event.all_day and event.start == datetime(2026, 12, 8, 5, tzinfo=UTC)
    assert (items[0]["start"], items[0]["end"]) == ({"date": "2026-12-08"}, {"date": "2026-12-09"})
    assert pages[0]["timeZone"] == "America/New_York"
