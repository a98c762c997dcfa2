"""Calendar sync scaled out on PostgreSQL: two web processes and a worker, Redis between them. Google's and Graph's
change notifications reaching either web process make one sync of the calendar between them (coalesced), and the
availableSlotsChanged subscribers of both web processes get the change the sync found."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select
from websockets.asyncio.client import connect

from db.models import Calendar, JobState, PushChannel, SyncMode
from emulators.google_push import Delivery, GooglePush
from emulators.microsoft_push import GraphPush
from meetgraph import sync
from tests.subscriptions.conftest import PROTOCOL, GraphQLWebSocket
from tests.utils.calendars import ACCOUNTS, primary_id, state_of
from tests.utils.databases import POSTGRES_ENV, postgres_url
from tests.utils.emulators import EmulatorServer, World
from tests.utils.graphql import GraphQLClient, iso, parse
from tests.utils.live import SAFETY_TIMEOUT
from tests.utils.meeting import future_slots
from tests.utils.page import page_owner
from tests.utils.processes import Process, Processes, database_url
from tests.utils.user import create_user

PUBLIC_URL = "https://meetgraph.test"
"""The deployment's https origin, as Google is told it; the emulator reaches it through `push_routes` (standing
for the TLS proxy in front of the web processes)."""
SLOTS_CHANGED = """
subscription($slug: String!, $start: DateTime!, $end: DateTime!) {
  availableSlotsChanged(slug: $slug, start: $start, end: $end) { start end } }
"""
WEB_ONLY = {"MEETGRAPH_RUN_WORKERS": "false"}


@pytest.fixture
async def pg_processes(tmp_path: Path, emulator_server: tuple[EmulatorServer, str]) -> AsyncIterator[Processes]:
    """Real meetgraph processes on a PostgreSQL database of their own."""
    if not postgres_url():
        pytest.skip(f"scale-out tests need {POSTGRES_ENV}")
    async with database_url("postgres", tmp_path) as url:
        made = Processes(tmp_path, url, emulator_server[1])
        try:
            yield made
        finally:
            await made.close()


@asynccontextmanager
async def slots_feed(process: Process, token: str, variables: dict[str, Any]) -> AsyncIterator[GraphQLWebSocket]:
    """An availableSlotsChanged subscription on one web process, by a WebSocket signed in with `token` (any
    user's: the subscription is public)."""
    async with connect(process.ws_url, subprotocols=[PROTOCOL], open_timeout=SAFETY_TIMEOUT) as connection:  # type: ignore[list-item]
        client = GraphQLWebSocket(connection)
        ack = await client.init({"authorization": f"Bearer {token}"})
        assert ack["type"] == "connection_ack", ack
        await client.subscribe("slots", SLOTS_CHANGED, variables)
        yield client


def starts(data: dict[str, Any]) -> list[str]:
    return [iso(parse(slot["start"])) for slot in data["availableSlotsChanged"]]


def change_notifications(world: World, provider: str, channel_id: str, count: int) -> list[int | None]:
    """The HTTP statuses the app answered to the channel's change notifications, once `count` were delivered
    (Google: `exists` messages; Graph: `created` notifications); fewer after SAFETY_TIMEOUT."""
    if provider == "GOOGLE":
        push: GooglePush = world.google_app.state.emulator.push

        def changes(deliveries: list[Delivery]) -> list[Delivery]:
            return [d for d in deliveries if d.channel_id == channel_id and d.resource_state == "exists"]

        return [d.status for d in changes(push.wait_for(lambda d: len(changes(d)) >= count, SAFETY_TIMEOUT))]
    graph: GraphPush = world.microsoft_app.state.push
    return [d.status for d in graph.wait_for_deliveries(channel_id, "created", count, SAFETY_TIMEOUT)]


@pytest.mark.parametrize("provider", ["GOOGLE", "OFFICE365"])
async def test_a_notification_at_either_web_process_makes_one_sync_and_reaches_both_processes_subscribers(
    pg_processes: Processes, world: World, redis_url: str, provider: str
) -> None:
    # given: two web processes, a worker that opens push channels (Google) or subscriptions (Graph) to the https
    # PUBLIC_URL
    processes = pg_processes
    shared = {"MEETGRAPH_BROADCAST_URL": redis_url}
    web = [processes.server("web-1", **WEB_ONLY, **shared), processes.server("web-2", **WEB_ONLY, **shared)]
    for process in web:
        await process.start()  # one after the other: the first applies the migrations
    worker = processes.worker(MEETGRAPH_PUBLIC_URL=PUBLIC_URL, **shared)
    await worker.start()
    state = state_of(world, provider)
    state.push_routes[PUBLIC_URL] = web[0].url
    calendar_id = primary_id(state, ACCOUNTS[provider])
    day = future_slots(1)[0] + timedelta(days=1)
    window = {"start": iso(day), "end": iso(day + timedelta(days=1))}
    async with web[0].client() as http:
        owner = await page_owner(GraphQLClient(http), http, "scale@crm.test", provider=provider)
        _, viewer = await create_user(GraphQLClient(http), "viewer@crm.test")

    async def pushed() -> bool:
        rows = await processes.rows(select(Calendar).where(col(Calendar.is_primary)))
        return bool(rows) and rows[0].sync_mode is SyncMode.PUSH

    await processes.wait_until(pushed, "the first sync is done and a push channel is open")
    (channel,) = await processes.rows(select(PushChannel))
    async with (
        slots_feed(web[0], viewer, {"slug": owner.slug, **window}) as first,
        slots_feed(web[1], viewer, {"slug": owner.slug, **window}) as second,
    ):
        before = starts(await first.next_data("slots"))
        assert starts(await second.next_data("slots")) == before and iso(day + timedelta(hours=10)) in before
        # the worker stops: the notifications' syncs wait for it
        worker.terminate()
        assert await worker.exited() == 0
        synced_before = len(await processes.jobs(sync.SYNC_CALENDAR))
        # when: one change notified to web-1, another to web-2
        state.add_event(calendar_id, day + timedelta(hours=10), day + timedelta(hours=11), "Board meeting")
        assert len(change_notifications(world, provider, channel.channel_id, 1)) == 1
        state.push_routes[PUBLIC_URL] = web[1].url
        state.add_event(calendar_id, day + timedelta(hours=14), day + timedelta(hours=15), "Dentist")
        answered = change_notifications(world, provider, channel.channel_id, 2)
        # then: both believed; one sync waits
        assert len(answered) == 2 and all(status is not None and 200 <= status < 300 for status in answered), answered
        waiting = await processes.jobs(sync.SYNC_CALENDAR, JobState.PENDING)
        assert len(waiting) == 1 and len(await processes.jobs(sync.SYNC_CALENDAR)) == synced_before + 1
        # when: the worker is back
        await worker.start()
        # then: that one sync runs, and both processes' subscribers get the slots without the two events
        after = [starts(await first.next_data("slots")), starts(await second.next_data("slots"))]
        taken = {iso(day + timedelta(hours=h, minutes=m)) for h in (10, 14) for m in (0, 30)}
        assert after[0] == after[1] == [s for s in before if s not in taken]
        await processes.wait_until(lambda: processes.settled(sync.SYNC_CALENDAR), "the sync is settled")
        jobs = await processes.jobs(sync.SYNC_CALENDAR)
        assert len(jobs) == synced_before + 1 and {j.state for j in jobs} == {JobState.DONE}
