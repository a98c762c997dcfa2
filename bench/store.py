"""Availability from the event store: a page whose owner's 3 calendars (x 1,000 events, 14 days) are synced,
against the same page of an owner with no calendar (the slot computation alone) and `{ __typename }`.

Google through the bench emulators in their own process, answering in 50 ms. The sync engine is not on this
branch, so the store is filled here exactly as a full sync would leave it: the emulators' seeded events (the
same seed, replayed in this process) as `calendar_events` rows, the calendars POLL, synced now, over the
span a full sync stores. Before timing, one view's slots from the store are checked equal to a live read's.

N interleaved rounds of three anonymous requests (synced page, no-calendar page, `{ __typename }`); p50 of
each, and the provider requests the emulator answered during them. Every 10th round the calendars get a new
synced_at (an incremental sync with nothing new) and one more synced view is timed apart: the store's events
are then read again, not taken from the per-version memo. `python -m bench.store`.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
from sqlmodel import col, select

from bench.__main__ import ADMIN, connect, control, emulator_process, gql
from bench.emulators import ACCOUNTS, DAYS, EVENTS_PER_CALENDAR, NOW, seed
from db.migrate import upgrade
from db.models import Calendar, CalendarConnection, CalendarEvent, SyncMode
from emulators.state import EmulatorState
from meetgraph.app import create_app
from meetgraph.services import Services
from meetgraph.settings import Settings
from scheduling.sync_rules import sync_window

LATENCY = 0.050
VIEWS = int(os.environ.get("MEETGRAPH_BENCH_STORE_VIEWS", "1000"))
GOAL = 1.5
SLOTS = """query($slug: String!, $s: DateTime!, $e: DateTime!) {
  schedulingPage(slug: $slug) { availableSlots(start: $s, end: $e) { start } } }"""
TYPENAME = "{ __typename }"
HOURS = [{"weekday": d, "start": "07:00", "end": "20:00"} for d in range(1, 8)]


async def anonymous(http: httpx.AsyncClient, query: str, variables: dict[str, str] | None = None) -> dict[str, object]:
    response = await http.post("/graphql", json={"query": query, "variables": variables or {}})
    body = response.json()
    if "errors" in body:
        raise RuntimeError(body["errors"])
    data: dict[str, object] = body["data"]
    return data


async def owner_with_page(http: httpx.AsyncClient, email: str, slug: str) -> str:
    made = await gql(
        http,
        "mutation($i: CreateUserInput!) { createUser(input: $i) { ... on CreateUserSuccess { token } } }",
        {"i": {"email": email, "name": "Owner"}},
        ADMIN,
    )
    token: str = made["createUser"]["token"]  # type: ignore[index]
    await gql(
        http,
        "mutation($i: SchedulingPageInput!) { createSchedulingPage(input: $i) { __typename } }",
        {"i": {"name": slug, "slug": slug, "timezone": "Europe/Berlin", "weeklyHours": HOURS, "durationMinutes": 15}},
        token,
    )
    return token


def seeded_google_world() -> EmulatorState:
    """The bench emulators' Google world, replayed: seeded first from the same generator (bench.emulators.app)."""
    state = EmulatorState("g")
    seed(state, ACCOUNTS["GOOGLE"], random.Random(7))
    return state


async def fill_store(services: Services) -> int:
    """What a full sync of the owner's Google calendars stores; returns the number of events."""
    world = seeded_google_world()
    by_name = {c.name: c for c in world.calendars.values() if c.owner_email == ACCOUNTS["GOOGLE"]}
    window_start, window_end = sync_window(NOW, services.settings.sync_window_days)
    stored = 0
    async with services.sessionmaker() as session:
        rows = (
            await session.exec(
                select(Calendar)
                .join(CalendarConnection, col(Calendar.connection_id) == CalendarConnection.id)
                .where(col(Calendar.is_primary) | col(Calendar.is_availability))
            )
        ).all()
        for calendar in rows:
            emulated = by_name[calendar.name]
            for event in emulated.events.values():
                if event.start >= window_end or event.end <= window_start:
                    continue
                session.add(
                    CalendarEvent(
                        calendar_id=calendar.id,
                        provider_event_id=event.id,
                        start=event.start,
                        end=event.end,
                        blocks=event.busy,
                        status="opaque" if event.busy else "transparent",
                        summary=event.summary,
                        organized_by_account=True,
                        updated_at=NOW,
                    )
                )
                stored += 1
            calendar.sync_mode = SyncMode.POLL
            calendar.synced_at = NOW
            calendar.sync_window_start, calendar.sync_window_end = window_start, window_end
            session.add(calendar)
        await session.commit()
    return stored


async def mark_synced_again(services: Services, round_number: int) -> None:
    """What an incremental sync with nothing new leaves: a new synced_at (so the store is read again)."""
    async with services.sessionmaker() as session:
        for calendar in (await session.exec(select(Calendar).where(Calendar.sync_mode == SyncMode.POLL))).all():
            calendar.synced_at = NOW - timedelta(microseconds=round_number + 1)
            session.add(calendar)
        await session.commit()


async def measure(base_url: str, workdir: Path) -> dict[str, float]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{workdir / 'store'}.db",
        admin_token=ADMIN,
        secret_key="bench-secret",
        public_url="http://meetgraph.bench",
        _env_file=None,  # type: ignore[call-arg]
    ).with_emulators(base_url)
    services = Services.create(settings, clock=lambda: NOW)
    await upgrade(services.engine)
    await services.start()
    app = create_app(settings, services=services, migrate=False)
    window = {"s": NOW.isoformat(), "e": (NOW + timedelta(days=DAYS)).isoformat()}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://meetgraph.bench", timeout=120
        ) as http:
            token = await owner_with_page(http, "synced@bench.test", "synced")
            await connect(http, token, "GOOGLE", settings)
            me = await gql(http, "{ me { calendarConnections { calendars { id isPrimary } } } }", {}, token)
            calendars = me["me"]["calendarConnections"][0]["calendars"]  # type: ignore[index]
            await gql(
                http,
                "mutation($i: CalendarSettingsInput!) { saveCalendarSettings(input: $i) { __typename } }",
                {"i": {"availabilityCalendarIds": [c["id"] for c in calendars if not c["isPrimary"]]}},
                token,
            )
            await owner_with_page(http, "no-calendar@bench.test", "nocalendar")
            await control(base_url, "GOOGLE", latency_seconds=LATENCY)
            live = await anonymous(http, SLOTS, {"slug": "synced", **window})
            stored = await fill_store(services)
            from_store = await anonymous(http, SLOTS, {"slug": "synced", **window})
            if from_store != live:
                raise RuntimeError("the store's slots differ from the provider's")
            await anonymous(http, SLOTS, {"slug": "nocalendar", **window})
            calls_before = int(str((await control(base_url, "GOOGLE"))["api_calls"]))
            synced: list[float] = []
            after_sync: list[float] = []
            bare: list[float] = []
            typename: list[float] = []
            for view in range(VIEWS):
                for timings, query, variables in (
                    (synced, SLOTS, {"slug": "synced", **window}),
                    (bare, SLOTS, {"slug": "nocalendar", **window}),
                    (typename, TYPENAME, None),
                ):
                    started = time.perf_counter()
                    await anonymous(http, query, variables)
                    timings.append(time.perf_counter() - started)
                if view % 10 == 0:
                    await mark_synced_again(services, view)
                    started = time.perf_counter()
                    await anonymous(http, SLOTS, {"slug": "synced", **window})
                    after_sync.append(time.perf_counter() - started)
            calls = int(str((await control(base_url, "GOOGLE"))["api_calls"])) - calls_before
    finally:
        await control(base_url, "GOOGLE", latency_seconds=0.0)
        await services.stop()
    return {
        "stored": stored,
        "slots": len(from_store["schedulingPage"]["availableSlots"]),  # type: ignore[index]
        "synced_s": statistics.median(synced),
        "after_sync_s": statistics.median(after_sync),
        "after_sync_n": len(after_sync),
        "bare_s": statistics.median(bare),
        "typename_s": statistics.median(typename),
        "calls": calls,
    }


async def main() -> int:
    with emulator_process() as base_url, tempfile.TemporaryDirectory() as tmp:
        r = await measure(base_url, Path(tmp))
    ratio = r["synced_s"] / r["bare_s"]
    print(
        f"availability from the store: Google, 3 calendars x {EVENTS_PER_CALENDAR} events over {DAYS} days"
        f" ({r['stored']:.0f} stored, filled as a full sync would), emulator latency {LATENCY * 1000:.0f} ms,"
        f" p50 of {VIEWS} interleaved anonymous views each"
    )
    print(
        f"{'synced page':>12} {'no calendar':>12} {'__typename':>11} {'ratio':>6} {'vs typename':>12}"
        f" {'after a sync':>13} {'ratio':>6} {'slots':>6}"
    )
    print(
        f"{r['synced_s'] * 1000:>10.1f}ms {r['bare_s'] * 1000:>10.1f}ms {r['typename_s'] * 1000:>9.1f}ms"
        f" {ratio:>6.2f} {r['synced_s'] / r['typename_s']:>11.1f}x"
        f" {r['after_sync_s'] * 1000:>11.1f}ms {r['after_sync_s'] / r['bare_s']:>6.2f} {r['slots']:>6.0f}"
    )
    print(
        "ratio = synced page / no-calendar page (goal <= 1.5); 'after a sync' = p50 of the"
        f" {r['after_sync_n']:.0f} views that each followed a new synced_at (the store's events read again)"
    )
    print(
        f"provider requests during the {VIEWS} synced views (and as many no-calendar views): {r['calls']:.0f}"
        f" (goal: no full read beyond the first sync's; ratio goal <= {GOAL})"
    )
    failed = r["calls"] > 0
    if failed:
        print("FAILED: fresh calendars were read from the provider", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
