"""Office 365 calendar sync end to end: the public API over HTTP and WebSocket, Graph's validation requests and
notifications over real HTTP from the emulator to the server's https PUBLIC_URL, jobs run by the test's worker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from meetgraph.settings import Settings
from tests.reschedule.moves import RESCHEDULE
from tests.subscriptions.conftest import authorized
from tests.sync.e2e.microsoft_harness import PUBLIC_URL, SyncedOwner, day_after, sign_up, synced_owner
from tests.utils.clock import FakeClock
from tests.utils.connection import DISCONNECT_CALENDAR, calendar_ids
from tests.utils.emulators import MICROSOFT_USER, EmulatorServer
from tests.utils.graphql import iso, parse
from tests.utils.live import LiveDatabases
from tests.utils.meeting import book
from tests.utils.page import AVAILABLE_SLOTS
from tests.utils.settings import save_settings_ok

WEBHOOK = f"{PUBLIC_URL}/webhooks/microsoft"
SLOTS_CHANGED = """
subscription($slug: String!, $start: DateTime!, $end: DateTime!) {
  availableSlotsChanged(slug: $slug, start: $start, end: $end) { start end } }
"""
MEETINGS = "{ me { meetings { id start end status source contactEmail title syncState } } }"


@pytest.fixture(name="synced")
async def synced_fixture(
    emulator_server: tuple[EmulatorServer, str],
    settings: Settings,
    databases: LiveDatabases,
    clock: FakeClock,
    redis_url: str,
) -> AsyncIterator[SyncedOwner]:
    async with synced_owner(emulator_server[0], settings, databases, clock, redis_url) as owner:
        yield owner


async def slot_starts(owner: SyncedOwner, day: Any) -> list[Any]:
    window = {"slug": owner.slug, "start": iso(day), "end": iso(day + timedelta(days=1))}
    data = await owner.gql(AVAILABLE_SLOTS, window)
    return [parse(slot["start"]) for slot in data["schedulingPage"]["availableSlots"]]


def primary_of(calendars: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (primary,) = [c for c in calendars.values() if c["isPrimary"]]
    return primary


async def test_first_sync_subscribes_through_the_validation_handshake_and_pages_read_the_store(
    synced: SyncedOwner,
) -> None:
    # given: a busy hour in the calendar before Ada connects it
    busy = day_after(synced.clock)
    synced.microsoft.state.add_event(synced.microsoft.primary, busy, busy + timedelta(hours=1))
    await sign_up(synced)
    # when
    ran = await synced.run_jobs()
    # then: the subscription was validated by the server itself (notification and lifecycle URLs)
    # (the first sync, then one more once the subscription is open: a change made between the two is never notified)
    assert ran == ["calendar.sync", "calendar.watch", "calendar.sync"], ran
    (subscription,) = synced.microsoft.push.subscriptions.values()
    assert (subscription.notification_url, subscription.lifecycle_url) == (WEBHOOK, WEBHOOK)
    assert subscription.resource == f"me/calendars/{synced.microsoft.primary}/events"
    validations = [d for d in synced.microsoft.push.deliveries if d.kind == "validation"]
    assert [(d.url, d.status) for d in validations] == [(WEBHOOK, 200), (WEBHOOK, 200)]
    primary = primary_of(await synced.calendars())
    assert (primary["syncMode"], parse(primary["syncedAt"])) == ("PUSH", synced.clock())
    # and a page view reads the store: no provider request
    day = busy.replace(hour=0)
    before = synced.microsoft.requests()
    starts = await slot_starts(synced, day)
    assert synced.microsoft.requests() == before
    assert busy not in starts and busy + timedelta(minutes=30) not in starts
    assert busy - timedelta(minutes=30) in starts and busy + timedelta(hours=1) in starts


async def test_a_calendar_shared_from_another_mailbox_is_polled_while_the_primary_is_pushed(
    synced: SyncedOwner,
) -> None:
    # given: Ada checks the colleague's shared calendar for availability too
    await sign_up(synced, shared_availability=True)
    await synced.run_jobs()
    calendars = await synced.calendars()
    # then: per-calendar modes; Graph refused a subscription to the other mailbox's calendar
    assert primary_of(calendars)["syncMode"] == "PUSH"
    assert calendars["Colleague (full details)"]["syncMode"] == "POLL"
    assert parse(calendars["Colleague (full details)"]["syncedAt"]) == synced.clock()
    (subscription,) = synced.microsoft.push.subscriptions.values()
    assert subscription.calendar_id == synced.microsoft.primary
    # when: the colleague's calendar changes (nothing notifies it) and the poll interval passes
    busy = day_after(synced.clock)
    synced.microsoft.state.add_event(synced.microsoft.shared, busy, busy + timedelta(hours=1))
    assert await synced.poll() == []  # not due yet
    synced.clock.advance(seconds=synced.worker.settings.sync_poll_seconds)
    ran = await synced.poll()
    # then: only the polled calendar was read, and the page shows the change without asking the provider
    assert ran == ["calendar.sync"]
    assert [e.start for e in (await synced.stored(synced.microsoft.shared)).values()] == [busy]
    before = synced.microsoft.requests()
    starts = await slot_starts(synced, busy.replace(hour=0))
    assert synced.microsoft.requests() == before
    assert busy not in starts and busy - timedelta(minutes=30) in starts
    calendars = await synced.calendars()
    assert [calendars["Colleague (full details)"]["syncMode"], primary_of(calendars)["syncMode"]] == ["POLL", "PUSH"]


async def subscribed_owner(synced: SyncedOwner, **options: Any) -> str:
    """Ada signed up and her first syncs done; the id of the primary calendar's Graph subscription."""
    await sign_up(synced, **options)
    await synced.run_jobs()
    (subscription,) = synced.microsoft.push.subscriptions.values()
    return subscription.id


async def meetings(synced: SyncedOwner) -> list[dict[str, Any]]:
    data = await synced.gql(MEETINGS, token=synced.token)
    found: list[dict[str, Any]] = data["me"]["meetings"]
    return found


def window_of(synced: SyncedOwner, day: datetime) -> dict[str, str]:
    return {"slug": synced.slug, "start": iso(day), "end": iso(day + timedelta(days=1))}


def slot_list(data: dict[str, Any]) -> list[datetime]:
    return [parse(slot["start"]) for slot in data["availableSlotsChanged"]]


async def test_pushed_changes_reach_the_store_the_page_and_its_subscribers(synced: SyncedOwner) -> None:
    # given
    subscription_id = await subscribed_owner(synced)
    busy = day_after(synced.clock)
    day = busy.replace(hour=0)
    half_hours = [busy, busy + timedelta(minutes=30)]
    async with authorized(synced.live, synced.token) as client:
        await client.subscribe("s", SLOTS_CHANGED, window_of(synced, day))
        first = slot_list(await client.next_data("s"))
        assert set(half_hours) <= set(first)
        # when: created in the calendar
        event = synced.microsoft.state.add_event(synced.microsoft.primary, busy, busy + timedelta(hours=1))
        (created,) = await synced.delivered(subscription_id, "created")
        assert created.status == 202
        assert await synced.run_jobs() == ["calendar.sync"]
        # then
        taken = slot_list(await client.next_data("s"))
        assert taken == [start for start in first if start not in half_hours]
        assert await slot_starts(synced, day) == taken
        # when: shown as free
        event.show_as = "free"
        await synced.delivered(subscription_id, "updated")
        await synced.run_jobs()
        # then
        assert slot_list(await client.next_data("s")) == first
        assert (await synced.stored(synced.microsoft.primary))[event.id].blocks is False
        # when: busy again, then deleted
        event.show_as = "busy"
        await synced.delivered(subscription_id, "updated", 2)
        await synced.run_jobs()
        assert slot_list(await client.next_data("s")) == taken
        event.cancelled = True
        await synced.delivered(subscription_id, "deleted")
        await synced.run_jobs()
        # then
        assert slot_list(await client.next_data("s")) == first
        assert event.id not in await synced.stored(synced.microsoft.primary)
        assert await slot_starts(synced, day) == first


async def test_a_notification_with_a_wrong_client_state_costs_nothing(synced: SyncedOwner) -> None:
    # given
    subscription_id = await subscribed_owner(synced)
    before = synced.microsoft.requests()
    forged = {
        "value": [
            {
                "subscriptionId": subscription_id,
                "changeType": "created",
                "clientState": "guessed",
                "resource": "Users/x/Events/y",
                "tenantId": synced.microsoft.push.tenant_id,
            },
            {"subscriptionId": subscription_id, "lifecycleEvent": "missed", "clientState": "guessed"},
        ]
    }
    # when
    answer = await synced.live.http.post("/webhooks/microsoft", json=forged)
    # then: acknowledged (Graph would retry anything else) and nothing to run, nothing asked of Graph
    assert answer.status_code == 202
    assert await synced.pending("calendar.sync") == []
    assert await synced.run_jobs() == []
    assert synced.microsoft.requests() == before


async def test_missed_notifications_make_a_resync_at_once(synced: SyncedOwner) -> None:
    # given: a change whose notification never reached the server (its proxy was down)
    subscription_id = await subscribed_owner(synced)
    route = synced.microsoft.state.push_routes.pop(PUBLIC_URL)
    busy = day_after(synced.clock)
    event = synced.microsoft.state.add_event(synced.microsoft.primary, busy, busy + timedelta(hours=1))
    lost = await synced.delivered(subscription_id, "created", 3)  # the first try and both retries
    assert {d.error for d in lost} == {"unreachable"}
    assert await synced.run_jobs() == []
    synced.microsoft.state.push_routes[PUBLIC_URL] = route
    # when: Graph says it missed notifications
    await asyncio.wrap_future(synced.microsoft.push.send_lifecycle(subscription_id, "missed"))
    # then: the next worker pass resyncs, without waiting for the safety net
    assert len(await synced.pending("calendar.sync")) == 1
    assert await synced.run_jobs() == ["calendar.sync"]
    assert event.id in await synced.stored(synced.microsoft.primary)


async def test_reauthorization_required_renews_the_subscription_in_place(synced: SyncedOwner) -> None:
    # given
    subscription_id = await subscribed_owner(synced)
    synced.clock.advance(hours=1)
    answered = synced.microsoft.push.subscriptions[subscription_id].expires_at
    # when
    await asyncio.wrap_future(synced.microsoft.push.send_lifecycle(subscription_id, "reauthorizationRequired"))
    ran = await synced.run_jobs()
    # then: PATCHed at Graph, same subscription, later expiry, recorded as Graph answered it
    assert ran == ["calendar.renew_channel"]
    assert synced.microsoft.calls("subscriptions.renew") == 1
    assert list(synced.microsoft.push.subscriptions) == [subscription_id]
    renewed = synced.microsoft.push.subscriptions[subscription_id].expires_at
    assert renewed > answered
    (channel,) = await synced.channels()
    assert (channel.channel_id, channel.expires_at.replace(tzinfo=renewed.tzinfo)) == (subscription_id, renewed)


async def test_a_removed_subscription_is_replaced(synced: SyncedOwner) -> None:
    # given
    subscription_id = await subscribed_owner(synced)
    # when
    await asyncio.wrap_future(synced.microsoft.push.send_lifecycle(subscription_id, "subscriptionRemoved"))
    # then: polled until a new subscription is open
    assert primary_of(await synced.calendars())["syncMode"] == "POLL"
    assert await synced.run_jobs() == ["calendar.watch", "calendar.sync"]  # the sync catches up what went unnotified
    (replacement,) = synced.microsoft.push.subscriptions.values()
    assert replacement.id != subscription_id
    assert [c.channel_id for c in await synced.channels()] == [replacement.id]
    assert primary_of(await synced.calendars())["syncMode"] == "PUSH"
    # and it notifies
    busy = day_after(synced.clock)
    event = synced.microsoft.state.add_event(synced.microsoft.primary, busy, busy + timedelta(hours=1))
    await synced.delivered(replacement.id, "created")
    assert await synced.run_jobs() == ["calendar.sync"]
    assert event.id in await synced.stored(synced.microsoft.primary)


async def test_the_subscription_is_renewed_before_the_expiry_graph_answered(synced: SyncedOwner) -> None:
    # given
    subscription_id = await subscribed_owner(synced)
    answered = synced.microsoft.push.subscriptions[subscription_id].expires_at
    renew_before = timedelta(seconds=synced.worker.settings.sync_renew_before_seconds)
    # when: just before the renewal is due, nothing; once due, the renewal
    synced.clock.set(answered - renew_before - timedelta(minutes=1))
    assert "calendar.renew_channel" not in await synced.poll()
    assert synced.microsoft.calls("subscriptions.renew") == 0
    synced.clock.set(answered - renew_before)
    ran = await synced.poll()
    # then: extended in place, before it expired, and it still notifies
    assert "calendar.renew_channel" in ran
    assert synced.microsoft.calls("subscriptions.renew") == 1
    assert list(synced.microsoft.push.subscriptions) == [subscription_id]
    assert synced.microsoft.push.subscriptions[subscription_id].expires_at > answered
    synced.clock.set(answered + timedelta(minutes=1))
    busy = day_after(synced.clock)
    event = synced.microsoft.state.add_event(synced.microsoft.primary, busy, busy + timedelta(hours=1))
    await synced.delivered(subscription_id, "created")
    await synced.run_jobs()
    assert event.id in await synced.stored(synced.microsoft.primary)
    assert primary_of(await synced.calendars())["syncMode"] == "PUSH"


async def test_an_expired_delta_token_makes_a_full_resync(
    synced: SyncedOwner, caplog: pytest.LogCaptureFixture
) -> None:
    # given: Graph forgot the delta token; an event was deleted meanwhile and another created
    subscription_id = await subscribed_owner(synced)
    busy = day_after(synced.clock)
    kept = synced.microsoft.state.add_event(synced.microsoft.primary, busy, busy + timedelta(hours=1))
    await synced.delivered(subscription_id, "created")
    await synced.run_jobs()
    synced.microsoft.state.expire_sync_state(synced.microsoft.primary)
    kept.cancelled = True
    fresh = synced.microsoft.state.add_event(
        synced.microsoft.primary, busy + timedelta(hours=2), busy + timedelta(hours=3)
    )
    await synced.delivered(subscription_id, "created", 2)
    # when
    with caplog.at_level(logging.INFO, logger="meetgraph.sync"):
        await synced.run_jobs()
    # then
    assert any("expired: full sync" in r.getMessage() for r in caplog.records)
    stored = await synced.stored(synced.microsoft.primary)
    assert fresh.id in stored and kept.id not in stored
    live = {e.id for e in synced.microsoft.state.live_events(synced.microsoft.primary)}
    assert set(stored) == live


async def test_a_shared_calendar_no_longer_readable_goes_inactive_on_its_poll(synced: SyncedOwner) -> None:
    # given
    await subscribed_owner(synced, shared_availability=True)
    synced.microsoft.state.lose_access(MICROSOFT_USER, synced.microsoft.shared)
    # when
    synced.clock.advance(seconds=synced.worker.settings.sync_poll_seconds)
    await synced.poll()
    # then: as a live read would have it
    calendars = await synced.calendars()
    assert calendars["Colleague (full details)"]["status"] == "INACTIVE"
    assert primary_of(calendars)["status"] == "ACTIVE"
    settings = await synced.gql("{ me { calendarSettings { inactiveCalendars { name } } } }", token=synced.token)
    assert settings["me"]["calendarSettings"]["inactiveCalendars"] == [{"name": "Colleague (full details)"}]


async def test_a_revoked_grant_found_by_sync_makes_the_connection_inactive_with_one_mail(synced: SyncedOwner) -> None:
    # given
    subscription_id = await subscribed_owner(synced)
    synced.microsoft.state.faults.revoked = True
    synced.microsoft.state.oauth.expire_access_tokens()
    # when: two changes notified, each synced
    busy = day_after(synced.clock)
    synced.microsoft.state.add_event(synced.microsoft.primary, busy, busy + timedelta(hours=1))
    await synced.delivered(subscription_id, "created")
    await synced.run_jobs()
    synced.microsoft.state.add_event(synced.microsoft.primary, busy + timedelta(hours=2), busy + timedelta(hours=3))
    await synced.delivered(subscription_id, "created", 2)
    await synced.run_jobs()
    synced.clock.advance(seconds=synced.worker.settings.sync_safety_net_seconds)
    await synced.poll()
    # then
    data = await synced.gql("{ me { calendarConnections { status } } }", token=synced.token)
    assert data["me"]["calendarConnections"] == [{"status": "INACTIVE"}]
    assert [str(m["Subject"]) for m in synced.mailbox.to("ada@example.com")] == [
        f"Calendar access to {MICROSOFT_USER} was revoked"
    ]


async def test_two_way_sync_imports_moves_and_cancels_and_leaves_our_own_events_alone(synced: SyncedOwner) -> None:
    # given
    subscription_id = await subscribed_owner(synced)
    start = day_after(synced.clock, days=3)
    # when: Ada organises a meeting with a contact in her calendar
    inbound = synced.microsoft.state.add_event(
        synced.microsoft.primary, start, start + timedelta(hours=1), "Kickoff", attendees=["bob@client.test"]
    )
    # and a meeting planner app writes one with a contact into it too
    planned = synced.microsoft.state.add_event(
        synced.microsoft.primary, start - timedelta(hours=2), start - timedelta(hours=1), attendees=["eve@client.test"]
    )
    planned.created_by_app = "Meeting planner"
    await synced.delivered(subscription_id, "created", 2)
    await synced.run_jobs()
    # then: Ada's meeting is in the CRM, the app's is not
    (imported,) = await meetings(synced)
    assert (imported["source"], imported["status"], imported["contactEmail"], imported["title"]) == (
        "CALENDAR",
        "BOOKED",
        "bob@client.test",
        "Kickoff",
    )
    assert parse(imported["start"]) == inbound.start
    # when: a visitor books; the event meetgraph wrote comes back through sync
    slot = start + timedelta(hours=3)
    booking = await book(synced.gql, synced.slug, slot)
    assert booking["__typename"] == "BookMeetingSuccess", booking
    (written,) = [e for e in synced.microsoft.state.live_events(synced.microsoft.primary) if e.start == slot]
    await synced.delivered(subscription_id, "created", 2)
    await synced.run_jobs()
    # then: not imported a second time
    assert sorted(m["source"] for m in await meetings(synced)) == ["CALENDAR", "PAGE"]
    # when: Ada moves the booked meeting's event in her calendar
    moved = slot + timedelta(days=1)
    written.start, written.end = moved, moved + (written.end - written.start)
    await synced.delivered(subscription_id, "updated")
    await synced.run_jobs()
    # then
    (page_meeting,) = [m for m in await meetings(synced) if m["source"] == "PAGE"]
    assert (parse(page_meeting["start"]), page_meeting["status"]) == (moved, "BOOKED")
    # when: she moves her own meeting an hour later
    inbound.start, inbound.end = inbound.start + timedelta(hours=1), inbound.end + timedelta(hours=1)
    await synced.delivered(subscription_id, "updated", 2)
    await synced.run_jobs()
    # then
    (calendar_meeting,) = [m for m in await meetings(synced) if m["source"] == "CALENDAR"]
    assert (parse(calendar_meeting["start"]), calendar_meeting["status"]) == (start + timedelta(hours=1), "BOOKED")
    # when: she deletes both events
    written.cancelled = True
    inbound.cancelled = True
    await synced.delivered(subscription_id, "deleted", 2)
    await synced.run_jobs()
    # then
    assert sorted((m["source"], m["status"]) for m in await meetings(synced)) == [
        ("CALENDAR", "CANCELLED"),
        ("PAGE", "CANCELLED"),
    ]


async def test_a_rescheduled_meeting_moves_its_event_in_place_and_the_sync_after_changes_nothing(
    synced: SyncedOwner,
) -> None:
    # given
    subscription_id = await subscribed_owner(synced)
    slot = day_after(synced.clock, days=3)
    booking = await book(synced.gql, synced.slug, slot)
    assert booking["__typename"] == "BookMeetingSuccess", booking
    await synced.delivered(subscription_id, "created")
    await synced.run_jobs()
    (event,) = synced.microsoft.state.live_events(synced.microsoft.primary)
    # when
    new_start = slot + timedelta(hours=2)
    answer = await synced.gql(RESCHEDULE, {"id": booking["meeting"]["id"], "start": iso(new_start)}, synced.token)
    # then: the same event, moved, the contact told by Graph
    assert answer["rescheduleMeeting"]["__typename"] == "MeetingSuccess", answer
    (after,) = synced.microsoft.state.live_events(synced.microsoft.primary)
    assert (after.id, after.start) == (event.id, new_start)
    assert after.updates_sent >= 1
    before = await meetings(synced)
    writes = (synced.microsoft.calls("event.update"), synced.microsoft.calls("events.create"), after.updates_sent)
    # when: the move comes back through sync
    await synced.delivered(subscription_id, "updated")
    await synced.run_jobs()
    # then: nothing more changed, nothing more written
    assert await meetings(synced) == before
    assert (synced.microsoft.calls("event.update"), synced.microsoft.calls("events.create"), after.updates_sent) == (
        writes
    )
    (meeting,) = before
    assert (parse(meeting["start"]), meeting["status"], meeting["source"]) == (new_start, "BOOKED", "PAGE")
    assert synced.microsoft.state.live_events(synced.microsoft.primary)[0].start == new_start
    assert new_start not in await slot_starts(synced, new_start.replace(hour=0))


async def test_an_own_second_calendar_chosen_for_availability_is_pushed_too(synced: SyncedOwner) -> None:
    # given: Ada's own "Team events" calendar (not the default one: Graph has no delta for it, it is listed)
    await sign_up(synced)
    ids = await calendar_ids(synced.gql, synced.token)
    await save_settings_ok(synced.gql, synced.token, availabilityCalendarIds=[ids["Team events"]])
    await synced.run_jobs()
    calendars = await synced.calendars()
    assert [primary_of(calendars)["syncMode"], calendars["Team events"]["syncMode"]] == ["PUSH", "PUSH"]
    by_calendar = {s.calendar_id: s.id for s in synced.microsoft.push.subscriptions.values()}
    assert set(by_calendar) == {synced.microsoft.primary, synced.microsoft.team}
    # when: an event is added there, then removed
    busy = day_after(synced.clock)
    event = synced.microsoft.state.add_event(synced.microsoft.team, busy, busy + timedelta(hours=1))
    await synced.delivered(by_calendar[synced.microsoft.team], "created")
    await synced.run_jobs()
    assert busy not in await slot_starts(synced, busy.replace(hour=0))
    synced.clock.advance(minutes=1)  # a listed calendar's cursor never changes: its store version is its sync time
    event.cancelled = True
    await synced.delivered(by_calendar[synced.microsoft.team], "deleted")
    await synced.run_jobs()
    # then
    assert await synced.stored(synced.microsoft.team) == {}
    assert busy in await slot_starts(synced, busy.replace(hour=0))


async def test_a_subscription_that_expired_while_no_worker_ran_is_replaced(synced: SyncedOwner) -> None:
    # given: the subscription's expiry passes with no renewal (every worker was down)
    subscription_id = await subscribed_owner(synced)
    answered = synced.microsoft.push.subscriptions[subscription_id].expires_at
    synced.clock.set(answered + timedelta(hours=1))
    busy = day_after(synced.clock)
    event = synced.microsoft.state.add_event(synced.microsoft.primary, busy, busy + timedelta(hours=1))
    assert synced.microsoft.push.deliveries_of(subscription_id)[-1].kind == "validation"  # expired: not notified
    # when: the workers are back
    await synced.poll()
    # then: a new subscription, the missed change synced, pushed again
    (replacement,) = [s for s in synced.microsoft.push.subscriptions.values() if s.expires_at > synced.clock()]
    assert replacement.id != subscription_id
    assert [c.channel_id for c in await synced.channels()] == [replacement.id]
    assert event.id in await synced.stored(synced.microsoft.primary)
    assert primary_of(await synced.calendars())["syncMode"] == "PUSH"


async def test_disconnecting_deletes_the_subscription_at_graph(synced: SyncedOwner) -> None:
    # given
    subscription_id = await subscribed_owner(synced)
    (connection,) = (await synced.gql("{ me { calendarConnections { id } } }", token=synced.token))["me"][
        "calendarConnections"
    ]
    # when
    result = await synced.gql(DISCONNECT_CALENDAR, {"id": connection["id"]}, synced.token)
    assert result["disconnectCalendar"]["__typename"] == "DisconnectSuccess", result
    await synced.run_jobs()
    # then: deleted at Graph; a late notification of it is refused and costs nothing
    assert synced.microsoft.calls("subscriptions.delete") == 1
    assert subscription_id not in synced.microsoft.push.subscriptions
    assert await synced.channels() == []
    late = {"value": [{"subscriptionId": subscription_id, "changeType": "updated", "clientState": "x"}]}
    assert (await synced.live.http.post("/webhooks/microsoft", json=late)).status_code == 202
    assert await synced.run_jobs() == []


async def test_rescheduling_onto_time_busy_in_the_synced_calendar_is_refused(synced: SyncedOwner) -> None:
    # given: a booked meeting, and a busy hour the calendar pushed into the store
    subscription_id = await subscribed_owner(synced)
    slot = day_after(synced.clock, days=3)
    booking = await book(synced.gql, synced.slug, slot)
    assert booking["__typename"] == "BookMeetingSuccess", booking
    busy = slot + timedelta(hours=4)
    synced.microsoft.state.add_event(synced.microsoft.primary, busy, busy + timedelta(hours=1))
    await synced.delivered(subscription_id, "created", 2)
    await synced.run_jobs()
    (written,) = [e for e in synced.microsoft.state.live_events(synced.microsoft.primary) if e.start == slot]
    updates = synced.microsoft.calls("event.update")
    # when
    answer = await synced.gql(RESCHEDULE, {"id": booking["meeting"]["id"], "start": iso(busy)}, synced.token)
    # then: refused, nothing moved anywhere
    assert answer["rescheduleMeeting"]["__typename"] == "SlotUnavailableError", answer
    (meeting,) = await meetings(synced)
    assert parse(meeting["start"]) == slot
    assert (written.start, synced.microsoft.calls("event.update")) == (slot, updates)


async def test_push_refused_by_a_failed_validation_is_polled_and_asked_again_the_next_day(synced: SyncedOwner) -> None:
    # given: Graph cannot reach the server (its proxy is down) when Ada connects
    route = synced.microsoft.state.push_routes.pop(PUBLIC_URL)
    await sign_up(synced)
    await synced.run_jobs()
    # then: no subscription, polled
    assert synced.microsoft.push.subscriptions == {}
    assert [(d.kind, d.error) for d in synced.microsoft.push.deliveries] == [("validation", "unreachable")]
    assert primary_of(await synced.calendars())["syncMode"] == "POLL"
    # when: a change, found by the next poll
    busy = day_after(synced.clock)
    event = synced.microsoft.state.add_event(synced.microsoft.primary, busy, busy + timedelta(hours=1))
    synced.clock.advance(seconds=synced.worker.settings.sync_poll_seconds)
    assert await synced.poll() == ["calendar.sync"]  # push is not asked again the same day
    assert event.id in await synced.stored(synced.microsoft.primary)
    # when: the proxy is back, and a day has passed
    synced.microsoft.state.push_routes[PUBLIC_URL] = route
    synced.clock.advance(days=1)
    ran = await synced.poll()
    # then
    assert ran == ["calendar.sync", "calendar.watch", "calendar.sync"]  # the last catches up what went unnotified
    (subscription,) = synced.microsoft.push.subscriptions.values()
    assert subscription.calendar_id == synced.microsoft.primary
    assert primary_of(await synced.calendars())["syncMode"] == "PUSH"
