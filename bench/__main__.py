"""make bench: availability against slow providers, and concurrent bookings of one slot.

1. availableSlots over 14 days for a page checking 3 calendars x 1,000 busy events each, with every
   emulator call delayed by 100 ms. Reported as (request latency) / (emulator latency): fetching the
   calendars one after another would cost >= 3.0; concurrently, about 1 (target <= 1.3).
2. 50 concurrent bookMeeting calls for one slot: exactly one must be booked.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from db.migrate import upgrade
from emulators.exchange import create_exchange_emulator
from emulators.google import create_google_emulator
from emulators.microsoft import create_microsoft_emulator
from emulators.runner import serve_in_thread
from emulators.state import EmulatorState
from meetgraph.app import create_app
from meetgraph.services import Services
from meetgraph.settings import Settings

LATENCY = 0.100
EVENTS_PER_CALENDAR = 1000
DAYS = 14
RUNS = 5
BOOKERS = 50
ADMIN = "bench-admin"
NOW = datetime(2026, 12, 6, 23, 0, tzinfo=timezone.utc)  # a Sunday night: the window starts Monday

KEPT_FREE = (NOW + timedelta(days=2, hours=10), NOW + timedelta(days=2, hours=11))
ACCOUNTS = {"GOOGLE": "bench@gmail.test", "OFFICE365": "bench@outlook.test", "EXCHANGE": "bench@exchange.test"}


def seed(state: EmulatorState, email: str, rng: random.Random) -> list[str]:
    """An account with 3 owned calendars, each holding 1,000 busy events spread over the window."""
    state.add_account(email, "Bench")
    account = state.account(email)
    assert account is not None
    calendars = [account.primary_calendar_id]
    calendars += [state.add_calendar(email, f"Availability {i}").id for i in (1, 2)]
    for calendar in calendars:
        added = 0
        while added < EVENTS_PER_CALENDAR:
            start = NOW + timedelta(minutes=rng.randrange(0, DAYS * 24 * 60, 5))
            end = start + timedelta(minutes=rng.choice((15, 30, 45, 60)))
            if start < KEPT_FREE[1] and end > KEPT_FREE[0]:
                continue  # keep one hour free so the booking benchmark has a slot to fight over
            state.add_event(calendar, start, end)
            added += 1
    return calendars


async def gql(http: httpx.AsyncClient, query: str, variables: dict[str, object], token: str) -> dict[str, object]:
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {token}"}
    )
    body = response.json()
    if "errors" in body:
        raise RuntimeError(body["errors"])
    data: dict[str, object] = body["data"]
    return data


async def connect(http: httpx.AsyncClient, token: str, provider: str, settings: Settings) -> None:
    if provider == "EXCHANGE":
        ews = settings.exchange_autodiscover_url.replace("/autodiscover/autodiscover.svc", "/EWS/Exchange.asmx")  # type: ignore[union-attr]
        data = await gql(
            http,
            "mutation($i: ExchangeConnectionInput!) { connectExchangeCalendar(input: $i) { __typename } }",
            {"i": {"email": ACCOUNTS[provider], "password": "app-password", "ewsUrl": ews}},
            token,
        )
        assert data["connectExchangeCalendar"] == {"__typename": "ConnectCalendarSuccess"}, data
        return
    data = await gql(
        http,
        "mutation($p: CalendarProvider!) { startCalendarConnection(provider: $p) {"
        " ... on StartCalendarConnectionSuccess { authorizationUrl } } }",
        {"p": provider},
        token,
    )
    url = data["startCalendarConnection"]["authorizationUrl"]  # type: ignore[index]
    async with httpx.AsyncClient() as browser:
        redirect = (await browser.get(url)).headers["location"]
    parts = urlsplit(redirect)
    await http.get(f"{parts.path}?{parts.query}")


async def scenario(provider: str, emulators: dict[str, EmulatorState], base_url: str, workdir: Path) -> dict[str, float]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{workdir / provider.lower()}.db",
        admin_token=ADMIN,
        secret_key="bench-secret",
        public_url="http://meetgraph.bench",
        _env_file=None,  # type: ignore[call-arg]
    ).with_emulators(base_url)
    services = Services.create(settings, clock=lambda: NOW)
    await upgrade(services.engine)
    await services.start()
    app = create_app(settings, services=services, migrate=False)
    state = emulators[provider]
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://meetgraph.bench", timeout=120) as http:
            made = await gql(
                http,
                "mutation($i: CreateUserInput!) { createUser(input: $i) { ... on CreateUserSuccess { token } } }",
                {"i": {"email": f"owner-{provider.lower()}@bench.test", "name": "Owner"}},
                ADMIN,
            )
            token = made["createUser"]["token"]  # type: ignore[index]
            await connect(http, token, provider, settings)
            me = await gql(http, "{ me { calendarConnections { calendars { id isPrimary } } } }", {}, token)
            calendars = me["me"]["calendarConnections"][0]["calendars"]  # type: ignore[index]
            others = [c["id"] for c in calendars if not c["isPrimary"]]
            await gql(
                http,
                "mutation($i: CalendarSettingsInput!) { saveCalendarSettings(input: $i) { __typename } }",
                {"i": {"availabilityCalendarIds": others, "schedulingPagesEnabled": True}},
                token,
            )
            hours = [{"weekday": d, "start": "07:00", "end": "20:00"} for d in range(1, 8)]
            page = await gql(
                http,
                "mutation($i: SchedulingPageInput!) { createSchedulingPage(input: $i) {"
                " ... on SchedulingPageSuccess { page { id slug } } } }",
                {"i": {"name": f"Bench {provider}", "timezone": "Europe/Berlin", "weeklyHours": hours, "durationMinutes": 15}},
                token,
            )
            slug = page["createSchedulingPage"]["page"]["slug"]  # type: ignore[index]
            query = (
                "query($s: DateTime!, $e: DateTime!) { me { schedulingPages { availableSlots(start: $s, end: $e) { start } } } }"
            )
            window = {"s": NOW.isoformat(), "e": (NOW + timedelta(days=DAYS)).isoformat()}
            state.faults.latency_seconds = LATENCY
            await gql(http, query, window, token)  # warm: token refresh, provider catalogues
            timings, slots = [], 0
            for _ in range(RUNS):
                started = time.perf_counter()
                data = await gql(http, query, window, token)
                timings.append(time.perf_counter() - started)
                slots = len(data["me"]["schedulingPages"][0]["availableSlots"])  # type: ignore[index]
            state.faults.latency_seconds = 0.0
            calls_before = state.faults.api_calls
            await gql(http, query, window, token)
            calls_per_query = state.faults.api_calls - calls_before
            state.faults.latency_seconds = LATENCY

            free = await gql(http, query, window, token)
            target = free["me"]["schedulingPages"][0]["availableSlots"][0]["start"]  # type: ignore[index]
            book = (
                "mutation($i: BookMeetingInput!) { bookMeeting(input: $i) { __typename } }"
            )
            started = time.perf_counter()
            results = await asyncio.gather(
                *(
                    http.post(
                        "/graphql",
                        json={"query": book, "variables": {"i": {"slug": slug, "start": target, "contactEmail": f"c{i}@example.org", "contactName": f"C{i}"}}},
                    )
                    for i in range(BOOKERS)
                )
            )
            booking_seconds = time.perf_counter() - started
            bodies = [r.json() for r in results]
            errors = [b["errors"] for b in bodies if b.get("errors")]
            if errors:
                print(errors[0], file=sys.stderr)
            outcomes = [(b.get("data") or {}).get("bookMeeting", {}).get("__typename", "error") for b in bodies]
            state.faults.latency_seconds = 0.0
            await services.drain()
    finally:
        state.faults.latency_seconds = 0.0
        await services.stop()
    median = statistics.median(timings)
    return {
        "median_s": median,
        "ratio": median / LATENCY,
        "slots": slots,
        "calls": calls_per_query,
        "booked": outcomes.count("BookMeetingSuccess"),
        "unavailable": outcomes.count("SlotUnavailableError"),
        "booking_s": booking_seconds,
    }


async def main() -> int:
    rng = random.Random(7)
    emulators = {"GOOGLE": EmulatorState("g"), "OFFICE365": EmulatorState("m"), "EXCHANGE": EmulatorState("x")}
    for provider, state in emulators.items():
        seed(state, ACCOUNTS[provider], rng)
    app = Starlette(
        routes=[
            Mount("/_emulators/google", app=create_google_emulator(emulators["GOOGLE"])),
            Mount("/_emulators/microsoft", app=create_microsoft_emulator(emulators["OFFICE365"])),
            Mount("/_emulators/exchange", app=create_exchange_emulator(emulators["EXCHANGE"])),
        ]
    )
    print(f"availability: {DAYS} days, 3 calendars x {EVENTS_PER_CALENDAR} busy events, emulator latency {LATENCY * 1000:.0f} ms per call, median of {RUNS}")
    print(f"bookings: {BOOKERS} concurrent bookMeeting calls for one slot (SQLite)")
    print(f"{'provider':<10} {'median':>8} {'ratio':>6} {'calls':>6} {'slots':>6} {'booked':>7} {'refused':>8} {'50 bookings':>12}")
    failed = False
    with serve_in_thread(app) as base_url, tempfile.TemporaryDirectory() as tmp:
        for provider in emulators:
            r = await scenario(provider, emulators, base_url, Path(tmp))
            print(
                f"{provider:<10} {r['median_s'] * 1000:>6.0f}ms {r['ratio']:>6.2f} {r['calls']:>6.0f} {r['slots']:>6.0f}"
                f" {r['booked']:>7.0f} {r['unavailable']:>8.0f} {r['booking_s']:>11.2f}s"
            )
            failed |= r["booked"] != 1
    print("ratio = availableSlots latency / emulator latency; sequential fetching of 3 calendars would be >= 3.0")
    if failed:
        print("FAILED: a slot was booked more or less than once", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
