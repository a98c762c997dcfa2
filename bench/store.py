"""Availability from the event store: a page whose owner's 3 Google calendars (x 1,000 events, 14 days) are synced,
against the same page of an owner with no calendar (the slot computation alone) and `{ __typename }`.

Google through the bench emulators in their own process, answering in 50 ms. The store is filled by the real first
sync: the calendar.sync jobs that connecting and choosing availability calendars enqueued, run by the job queue
(no push: the bench's PUBLIC_URL is http, so the calendars are POLLed). Before timing, one view's slots from the
store are checked equal to a live read's.

N interleaved rounds of three anonymous requests (synced page, no-calendar page, `{ __typename }`); p50 of each.
Every 10th round the clock moves on and every calendar is synced again (incremental, nothing new), then one more
synced view is timed apart ("after a sync"); 5 rounds later the same after an event was added at the emulator
("after a change": that calendar's events are read from the store again, not from the per-version memo). The emulators count their requests by kind (full reads, incremental reads,
live busy reads). `python -m bench.store`.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from sqlmodel import col, select

from bench.__main__ import ADMIN, connect, control, emulator_process, gql
from bench.emulators import ACCOUNTS, DAYS, EVENTS_PER_CALENDAR, NOW
from db.migrate import upgrade
from db.models import Calendar, CalendarEvent, SyncMode
from meetgraph import sync
from meetgraph.app import create_app
from meetgraph.services import Services
from meetgraph.settings import Settings

LATENCY = 0.050
VIEWS = int(os.environ.get("MEETGRAPH_BENCH_STORE_VIEWS", "1000"))
GOAL = 1.5
SYNC_EVERY = timedelta(seconds=10)
"""The services' clock moves on this much before each incremental sync (every 10th round)."""
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


async def provider_requests(base_url: str, *, reset: bool = False) -> dict[str, int]:
    """The bench emulators' requests by kind since the last reset (bench.emulators.request_kind)."""
    async with httpx.AsyncClient() as client:
        response = await (client.delete if reset else client.get)(f"{base_url}/_bench/requests")
    counts: dict[str, int] = response.json()
    return counts


class BenchClock:
    """The services' clock: NOW, moved on by the bench between syncs (so each sync leaves a new synced_at)."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


async def run_syncs(services: Services) -> float:
    """Sync every calendar of the store's owners as the poller would (one calendar.sync job each, run by the job
    queue); returns the seconds it took."""
    async with services.sessionmaker() as session:
        ids = list(
            (
                await session.exec(select(Calendar.id).where(col(Calendar.is_primary) | col(Calendar.is_availability)))
            ).all()
        )
    started = time.perf_counter()
    await sync.request_sync(services, ids)
    await services.drain()
    return time.perf_counter() - started


async def add_event(base_url: str, start: datetime) -> None:
    """A new busy event in the owner's "Availability 1", made at the emulator (as its user would)."""
    body = {"calendar": "Availability 1", "email": ACCOUNTS["GOOGLE"], "start": start.isoformat()}
    body["end"] = (start + timedelta(minutes=30)).isoformat()
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{base_url}/_emulators/google/_control/events", json=body)
    response.raise_for_status()


async def stored_events(services: Services) -> int:
    async with services.sessionmaker() as session:
        return len((await session.exec(select(CalendarEvent.id))).all())


@dataclass(frozen=True)
class Result:
    first_stored: int
    stored: int
    modes: str
    slots: int
    first_sync: dict[str, int]
    first_sync_s: float
    during_views: dict[str, int]
    syncs: int
    changes: int
    after_change_s: float
    synced_s: float
    after_sync_s: float
    bare_s: float
    typename_s: float


async def sync_modes(services: Services) -> str:
    async with services.sessionmaker() as session:
        modes = (await session.exec(select(Calendar.sync_mode))).all()
    return ", ".join(f"{mode} {n}" for mode, n in sorted(Counter(SyncMode(m).value for m in modes).items()))


async def measure(base_url: str, workdir: Path) -> Result:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{workdir / 'store'}.db",
        admin_token=ADMIN,
        secret_key="bench-secret",
        public_url="http://meetgraph.bench",
        _env_file=None,  # type: ignore[call-arg]
    ).with_emulators(base_url)
    clock = BenchClock()
    services = Services.create(settings, clock=clock)
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
            await provider_requests(base_url, reset=True)
            first_sync_s = await run_syncs(services)
            first_sync = await provider_requests(base_url, reset=True)
            first_stored = await stored_events(services)
            modes = await sync_modes(services)
            from_store = await anonymous(http, SLOTS, {"slug": "synced", **window})
            if from_store != live:
                raise RuntimeError("the store's slots differ from the provider's")
            await anonymous(http, SLOTS, {"slug": "nocalendar", **window})
            await provider_requests(base_url, reset=True)
            synced: list[float] = []
            after_sync: list[float] = []
            after_change: list[float] = []
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
                if view % 10 in (0, 5):
                    changed = view % 10 == 5
                    if changed:
                        await add_event(base_url, NOW + timedelta(days=DAYS - 1, minutes=5 * view))
                    clock.now += SYNC_EVERY
                    await run_syncs(services)
                    started = time.perf_counter()
                    await anonymous(http, SLOTS, {"slug": "synced", **window})
                    (after_change if changed else after_sync).append(time.perf_counter() - started)
            during_views = await provider_requests(base_url)
            stored = await stored_events(services)
    finally:
        await control(base_url, "GOOGLE", latency_seconds=0.0)
        await services.stop()
    return Result(
        first_stored=first_stored,
        stored=stored,
        modes=modes,
        slots=len(from_store["schedulingPage"]["availableSlots"]),  # type: ignore[index]
        first_sync=first_sync,
        first_sync_s=first_sync_s,
        during_views=during_views,
        syncs=len(after_sync),
        changes=len(after_change),
        after_change_s=statistics.median(after_change),
        synced_s=statistics.median(synced),
        after_sync_s=statistics.median(after_sync),
        bare_s=statistics.median(bare),
        typename_s=statistics.median(typename),
    )


def _kinds(counts: dict[str, int]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items())) or "none"


async def main() -> int:
    with emulator_process() as base_url, tempfile.TemporaryDirectory() as tmp:
        r = await measure(base_url, Path(tmp))
    ratio = r.synced_s / r.bare_s
    print(
        f"availability from the store: Google, 3 calendars x {EVENTS_PER_CALENDAR} events over {DAYS} days,"
        f" emulator latency {LATENCY * 1000:.0f} ms, p50 of {VIEWS} interleaved anonymous views each"
    )
    print(
        f"first sync (3 calendar.sync jobs through the job queue): {r.first_sync_s:.2f}s, {r.first_stored} events"
        " stored,"
        f" calendars {r.modes}; provider requests: {_kinds(r.first_sync)}"
    )
    print(
        f"{'synced page':>12} {'no calendar':>12} {'__typename':>11} {'ratio':>6} {'vs typename':>12}"
        f" {'after a sync':>13} {'ratio':>6} {'after a change':>15} {'ratio':>6} {'slots':>6}"
    )
    print(
        f"{r.synced_s * 1000:>10.1f}ms {r.bare_s * 1000:>10.1f}ms {r.typename_s * 1000:>9.1f}ms"
        f" {ratio:>6.2f} {r.synced_s / r.typename_s:>11.1f}x"
        f" {r.after_sync_s * 1000:>11.1f}ms {r.after_sync_s / r.bare_s:>6.2f}"
        f" {r.after_change_s * 1000:>13.1f}ms {r.after_change_s / r.bare_s:>6.2f} {r.slots:>6}"
    )
    print(
        f"ratio = synced page / no-calendar page (goal <= {GOAL}); 'after a sync' = p50 of the {r.syncs} views"
        " that each followed an incremental sync of the 3 calendars with nothing new (new synced_at); 'after a"
        f" change' = p50 of the {r.changes} views that each followed one that took in a new event (the calendar's"
        " events read from the store again)"
    )
    print(
        f"provider requests during the {VIEWS} synced views (and as many no-calendar views) and {r.syncs + r.changes}"
        f" incremental syncs: {_kinds(r.during_views)}; {r.stored} events stored at the end"
        " (goal: no full read beyond the first sync's)"
    )
    full_reads = sum(n for kind, n in r.during_views.items() if "incremental" not in kind)
    failed = full_reads > 0 or ratio > GOAL
    if full_reads:
        print("FAILED: fresh calendars were read in full or live from the provider", file=sys.stderr)
    if ratio > GOAL:
        print(f"FAILED: the synced page took more than {GOAL}x the no-calendar page", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
