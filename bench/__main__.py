"""make bench: availability against slow providers, and concurrent bookings of one slot; then
bench/booking.py (booking latency before and after durable jobs, jobs per second).

1. availableSlots over 14 days for a page checking 3 calendars x 1,000 busy events each, with every
   emulator call delayed by 100 ms. Reported as (request latency) / (emulator latency): fetching the
   calendars one after another would cost >= 3.0; concurrently, about 1 (target <= 1.3).
   Then 50 concurrent cold views of the page: the provider calls they cost (shared: those of one view).
   The calendars stay cold: no job worker runs here, so the syncs that connecting enqueued wait.
2. 50 concurrent bookMeeting calls for one slot: exactly one must be booked.
Then bench/store.py (availability from the event store), bench/push.py (push latency) and bench/booking.py.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from sqlmodel import select

from bench.emulators import ACCOUNTS, DAYS, EVENTS_PER_CALENDAR, NOW
from db.migrate import upgrade
from db.models import Calendar, CalendarConnection
from emulators.runner import free_port
from meetgraph.app import create_app
from meetgraph.providers import provider_for
from meetgraph.services import Services
from meetgraph.settings import Settings

LATENCY = 0.100
RUNS = 5
BOOKERS = 50
CONCURRENT_VIEWS = 50
ADMIN = "bench-admin"
MOUNTS = {"GOOGLE": "google", "OFFICE365": "microsoft", "EXCHANGE": "exchange"}


async def gql(http: httpx.AsyncClient, query: str, variables: Mapping[str, object], token: str) -> dict[str, object]:
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
    # `http` is the user's browser on our server: it opens our start URL (which ties the flow to it with a
    # cookie) and later follows the provider's redirect to the callback; the provider is a real server
    at_provider = (await http.get(urlsplit(url).path)).headers["location"]
    async with httpx.AsyncClient() as browser:
        redirect = (await browser.get(at_provider)).headers["location"]
    parts = urlsplit(redirect)
    await http.get(f"{parts.path}?{parts.query}")


async def control(base_url: str, provider: str, **faults: object) -> dict[str, object]:
    """Read (and with arguments, change) an emulator's faults through its control surface."""
    url = f"{base_url}/_emulators/{MOUNTS[provider]}/_control/faults"
    async with httpx.AsyncClient() as client:
        response = await (client.post(url, json=faults) if faults else client.get(url))
    body: dict[str, object] = response.json()
    return body


async def provider_fetch_times(services: Services, window: dict[str, str]) -> tuple[float, float]:
    """The provider layer alone: the 3 calendars in one get_busy (as availability does), and one by one."""
    async with services.sessionmaker() as session:
        connection = (await session.exec(select(CalendarConnection))).one()
        calendars = (await session.exec(select(Calendar).where(Calendar.connection_id == connection.id))).all()
    ids = [c.provider_calendar_id for c in calendars]
    primary = next(c.provider_calendar_id for c in calendars if c.is_primary)
    start, end = datetime.fromisoformat(window["s"]), datetime.fromisoformat(window["e"])
    together, one_by_one = [], []
    async with provider_for(connection, services, primary) as provider:
        await provider.get_busy(ids, start, end)
        for _ in range(RUNS):
            started = time.perf_counter()
            await provider.get_busy(ids, start, end)
            together.append(time.perf_counter() - started)
            started = time.perf_counter()
            for calendar_id in ids:
                await provider.get_busy([calendar_id], start, end)
            one_by_one.append(time.perf_counter() - started)
    return statistics.median(together), statistics.median(one_by_one)


async def scenario(provider: str, base_url: str, workdir: Path) -> dict[str, float]:
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
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://meetgraph.bench", timeout=120
        ) as http:
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
                {
                    "i": {
                        "name": f"Bench {provider}",
                        "timezone": "Europe/Berlin",
                        "weeklyHours": hours,
                        "durationMinutes": 15,
                    }
                },
                token,
            )
            slug = page["createSchedulingPage"]["page"]["slug"]  # type: ignore[index]
            query = "query($s: DateTime!, $e: DateTime!) { me { schedulingPages { availableSlots(start: $s, end: $e) { start } } } }"
            window = {"s": NOW.isoformat(), "e": (NOW + timedelta(days=DAYS)).isoformat()}
            await control(base_url, provider, latency_seconds=LATENCY)
            await gql(http, query, window, token)  # warm: token refresh, provider catalogues
            timings, slots = [], 0
            for _ in range(RUNS):
                started = time.perf_counter()
                data = await gql(http, query, window, token)
                timings.append(time.perf_counter() - started)
                slots = len(data["me"]["schedulingPages"][0]["availableSlots"])  # type: ignore[index]
            together, one_by_one = await provider_fetch_times(services, window)
            calls_before = int(str((await control(base_url, provider))["api_calls"]))
            await gql(http, query, window, token)
            calls_per_query = int(str((await control(base_url, provider))["api_calls"])) - calls_before
            calls_before = int(str((await control(base_url, provider))["api_calls"]))
            await asyncio.gather(*(gql(http, query, window, token) for _ in range(CONCURRENT_VIEWS)))
            concurrent_calls = int(str((await control(base_url, provider))["api_calls"])) - calls_before

            free = await gql(http, query, window, token)
            target = free["me"]["schedulingPages"][0]["availableSlots"][0]["start"]  # type: ignore[index]
            book = "mutation($i: BookMeetingInput!) { bookMeeting(input: $i) { __typename } }"
            started = time.perf_counter()
            results = await asyncio.gather(
                *(
                    http.post(
                        "/graphql",
                        json={
                            "query": book,
                            "variables": {
                                "i": {
                                    "slug": slug,
                                    "start": target,
                                    "contactEmail": f"c{i}@example.org",
                                    "contactName": f"C{i}",
                                }
                            },
                        },
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
            await services.drain()
    finally:
        await control(base_url, provider, latency_seconds=0.0)
        await services.stop()
    median = statistics.median(timings)
    return {
        "median_s": median,
        "ratio": median / LATENCY,
        "slots": slots,
        "calls": calls_per_query,
        "concurrent_calls": concurrent_calls,
        "booked": outcomes.count("BookMeetingSuccess"),
        "unavailable": outcomes.count("SlotUnavailableError"),
        "booking_s": booking_seconds,
        "together_s": together,
        "one_by_one_s": one_by_one,
    }


@contextmanager
def emulator_process() -> Iterator[str]:
    """bench.emulators in a child process: its CPU does not compete with the server's for the GIL."""
    port = free_port()
    child = subprocess.Popen([sys.executable, "-m", "bench.emulators", str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{base}/_emulators/google/_control/faults", timeout=1)
                break
            except httpx.TransportError:
                if child.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the bench emulators did not start") from None
                time.sleep(0.2)  # waiting for a child process to listen; not part of any measurement
        yield base
    finally:
        child.terminate()
        child.wait(timeout=30)


async def main() -> int:
    print(
        f"availability: {DAYS} days, 3 calendars x {EVENTS_PER_CALENDAR} busy events, emulator latency "
        f"{LATENCY * 1000:.0f} ms per call (emulators in their own process), median of {RUNS}"
    )
    print(f"bookings: {BOOKERS} concurrent bookMeeting calls for one slot (SQLite)")
    print(
        f"{'provider':<10} {'slots query':>11} {'ratio':>6} {'calls':>6} {'50 views':>9} {'slots':>6}"
        f" {'3 together':>11} {'one by one':>11} {'booked':>7} {'refused':>8} {'50 bookings':>12}"
    )
    failed = False
    with emulator_process() as base_url, tempfile.TemporaryDirectory() as tmp:
        for provider in MOUNTS:
            r = await scenario(provider, base_url, Path(tmp))
            print(
                f"{provider:<10} {r['median_s'] * 1000:>9.0f}ms {r['ratio']:>6.2f} {r['calls']:>6.0f}"
                f" {r['concurrent_calls']:>9.0f} {r['slots']:>6.0f}"
                f" {r['together_s'] / LATENCY:>10.2f}x {r['one_by_one_s'] / LATENCY:>10.2f}x"
                f" {r['booked']:>7.0f} {r['unavailable']:>8.0f} {r['booking_s']:>11.2f}s"
            )
            failed |= r["booked"] != 1
    print(
        "ratio = availableSlots latency / emulator latency (3.0 or more if the 3 calendars were fetched in turn);"
        f" calls = provider calls of one cold view, '50 views' = of {CONCURRENT_VIEWS} concurrent cold views;"
        " '3 together' and 'one by one' = the provider layer's get_busy for the 3 calendars at once and in"
        " turn, in units of the emulator latency"
    )
    if failed:
        print("FAILED: a slot was booked more or less than once", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    from bench import booking, push, store

    failed_availability = asyncio.run(main())
    failed_store = asyncio.run(store.main())
    failed_push = asyncio.run(push.main())
    raise SystemExit(asyncio.run(booking.main()) or failed_availability or failed_store or failed_push)
