"""Push latency: a change made in an emulated calendar (Google, Office 365), from the emulator's notification to the
change showing in `availableSlots` and reaching an `availableSlotsChanged` subscriber.

The meetgraph server is a real uvicorn process (`meetgraph.app:create_app`, its job worker and poller running in
it, SQLite) with an https PUBLIC_URL, so calendars are pushed: the emulators (in a thread of this process, seeded
like bench.emulators: 3 calendars x 1,000 events) deliver their notifications to that origin through
`EmulatorState.push_routes`, standing for the TLS proxy in front of the app. For each provider: an owner connects,
picks the two other calendars for availability, opens a page; once every calendar is PUSH, a WebSocket subscriber
follows the page's slots (graphql-transport-ws) while a client reads availableSlots over HTTP back to back. Then
20 changes, one at a time: an event added over a free hour of the primary calendar, then cancelled, and so on.
Per change: notification = the emulator starting the webhook POST (its delivery task), visible = the first
availableSlots answer showing the change, received = the subscriber's message showing it. `python -m bench.push`.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from bench.__main__ import ADMIN, gql
from bench.booking import served
from bench.emulators import ACCOUNTS, DAYS, KEPT_FREE, NOW, seed
from emulators.google import create_google_emulator
from emulators.microsoft import create_microsoft_emulator
from emulators.runner import free_port, serve_in_thread
from emulators.state import EmulatedEvent, EmulatorState
from meetgraph.settings import Settings

CHANGES = int(os.environ.get("MEETGRAPH_BENCH_PUSH_CHANGES", "20"))
GOAL_SECONDS = 1.0
PUBLIC_ORIGIN = "https://app.meetgraph.bench"
WAIT_SECONDS = 30.0
"""The longest any one step may take before the bench gives up (a bound, never a measured wait)."""
MOUNTS = {"GOOGLE": "google", "OFFICE365": "microsoft"}
SLOTS = """query($slug: String!, $s: DateTime!, $e: DateTime!) {
  schedulingPage(slug: $slug) { availableSlots(start: $s, end: $e) { start } } }"""
FOLLOW = """subscription($slug: String!, $s: DateTime!, $e: DateTime!) {
  availableSlotsChanged(slug: $slug, start: $s, end: $e) { start } }"""
HOURS = [{"weekday": d, "start": "07:00", "end": "20:00"} for d in range(1, 8)]


class Notifications:
    """When the emulators started each webhook delivery (time.perf_counter(), in their thread)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.lock = threading.Lock()

    def timed(self, deliver: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        async def delivering(*args: Any, **kwargs: Any) -> None:
            with self.lock:
                self.times.append(time.perf_counter())
            await deliver(*args, **kwargs)

        return delivering

    def first_after(self, moment: float) -> float | None:
        with self.lock:
            return next((t for t in self.times if t >= moment), None)


@dataclass
class World:
    base_url: str
    states: dict[str, EmulatorState]
    notifications: dict[str, Notifications]


@contextmanager
def emulators() -> Iterator[World]:
    """Google and Office 365 emulators (bench accounts, 3 x 1,000 events) in a thread, their deliveries timed."""
    rng = random.Random(7)
    states = {"GOOGLE": EmulatorState("g"), "OFFICE365": EmulatorState("m")}
    for kind, state in states.items():
        seed(state, ACCOUNTS[kind], rng)
    google = create_google_emulator(states["GOOGLE"])
    microsoft = create_microsoft_emulator(states["OFFICE365"])
    notifications = {kind: Notifications() for kind in states}
    google_push = google.state.emulator.push
    google_push._deliver = notifications["GOOGLE"].timed(google_push._deliver)  # type: ignore[method-assign]
    graph_push = microsoft.state.push
    graph_push._post = notifications["OFFICE365"].timed(graph_push._post)  # type: ignore[method-assign]
    app = Starlette(routes=[Mount("/_emulators/google", app=google), Mount("/_emulators/microsoft", app=microsoft)])
    with serve_in_thread(app) as base_url:
        yield World(base_url, states, notifications)


@contextmanager
def server(database_url: str, emulator_base: str, port: int) -> Iterator[str]:
    """`uvicorn meetgraph.app:create_app` in its own process (job worker and poller on), https PUBLIC_URL."""
    settings = Settings(_env_file=None).with_emulators(emulator_base)  # type: ignore[call-arg]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEETGRAPH_")}
    env.update(
        {
            "MEETGRAPH_DATABASE_URL": database_url,
            "MEETGRAPH_ADMIN_TOKEN": ADMIN,
            "MEETGRAPH_SECRET_KEY": "bench-secret",
            "MEETGRAPH_PUBLIC_URL": PUBLIC_ORIGIN,
            "MEETGRAPH_BROADCAST_URL": "memory://",
        }
    )
    for name in (
        "google_auth_url",
        "google_token_url",
        "google_userinfo_url",
        "google_api_url",
        "microsoft_auth_url",
        "microsoft_token_url",
        "microsoft_graph_url",
    ):
        env[f"MEETGRAPH_{name.upper()}"] = str(getattr(settings, name))
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "uvicorn", "--factory", "meetgraph.app:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with served(subprocess.Popen(command, env=env), base):
        yield base


async def connect(http: httpx.AsyncClient, token: str, provider: str) -> None:
    """The OAuth flow as a browser runs it; the flow's cookie is Secure (https PUBLIC_URL) and this client speaks
    plain http to the server (the TLS proxy's side), so it is carried by hand."""
    data = await gql(
        http,
        "mutation($p: CalendarProvider!) { startCalendarConnection(provider: $p) {"
        " ... on StartCalendarConnectionSuccess { authorizationUrl } } }",
        {"p": provider},
        token,
    )
    url = data["startCalendarConnection"]["authorizationUrl"]  # type: ignore[index]
    started = await http.get(urlsplit(url).path)
    cookies = "; ".join(f"{name}={value}" for name, value in started.cookies.items())
    async with httpx.AsyncClient() as browser:
        redirect = (await browser.get(started.headers["location"])).headers["location"]
    parts = urlsplit(redirect)
    done = await http.get(f"{parts.path}?{parts.query}", headers={"Cookie": cookies})
    if done.status_code >= 400:
        raise RuntimeError(f"connecting {provider} failed: {done.status_code} {done.text[:200]}")


async def owner(http: httpx.AsyncClient, provider: str) -> tuple[str, str]:
    """A user with the provider's bench account connected, its 2 other calendars for availability and a page;
    returns (token, slug)."""
    made = await gql(
        http,
        "mutation($i: CreateUserInput!) { createUser(input: $i) { ... on CreateUserSuccess { token } } }",
        {"i": {"email": f"push-{provider.lower()}@bench.test", "name": "Owner"}},
        ADMIN,
    )
    token = str(made["createUser"]["token"])  # type: ignore[index]
    await connect(http, token, provider)
    calendars = await calendar_modes(http, token)
    await gql(
        http,
        "mutation($i: CalendarSettingsInput!) { saveCalendarSettings(input: $i) { __typename } }",
        {"i": {"availabilityCalendarIds": [c["id"] for c in calendars if not c["isPrimary"]]}},
        token,
    )
    slug = f"push-{provider.lower()}"
    await gql(
        http,
        "mutation($i: SchedulingPageInput!) { createSchedulingPage(input: $i) { __typename } }",
        {"i": {"name": slug, "slug": slug, "timezone": "Europe/Berlin", "weeklyHours": HOURS, "durationMinutes": 15}},
        token,
    )
    return token, slug


async def calendar_modes(http: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    me = await gql(http, "{ me { calendarConnections { calendars { id isPrimary syncMode } } } }", {}, token)
    calendars: list[dict[str, Any]] = me["me"]["calendarConnections"][0]["calendars"]  # type: ignore[index]
    return calendars


async def until_pushed(http: httpx.AsyncClient, token: str) -> float:
    """Wait (bounded) until the first syncs ran and every calendar is PUSH; returns the seconds it took."""
    started = time.perf_counter()
    while True:
        modes = [c["syncMode"] for c in await calendar_modes(http, token)]
        if modes and all(mode == "PUSH" for mode in modes):
            return time.perf_counter() - started
        if time.perf_counter() - started > 120:
            raise RuntimeError(f"the calendars never became PUSH: {modes}")
        await asyncio.sleep(0.2)  # the server's worker syncs and opens channels; polled, not part of a figure


class Subscriber:
    """One availableSlotsChanged subscription over graphql-transport-ws; each message's slots and arrival time."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.messages: list[tuple[float, set[str]]] = []
        self.arrived = asyncio.Event()

    @classmethod
    async def open(cls, base: str, token: str, variables: dict[str, str]) -> Subscriber:
        socket = await ws_connect(
            base.replace("http://", "ws://") + "/graphql",
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        )
        await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        ack = json.loads(await asyncio.wait_for(socket.recv(), WAIT_SECONDS))
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"the subscription was refused: {ack}")
        await socket.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": FOLLOW, "variables": variables}})
        )
        subscriber = cls(socket)
        return subscriber

    async def listen(self) -> None:
        async for raw in self.socket:
            message = json.loads(raw)
            if message.get("type") == "ping":
                await self.socket.send(json.dumps({"type": "pong"}))
                continue
            if message.get("type") != "next":
                raise RuntimeError(f"unexpected subscription message: {message}")
            payload = message["payload"]
            if payload.get("errors"):
                raise RuntimeError(payload["errors"])
            starts = {s["start"] for s in payload["data"]["availableSlotsChanged"]}
            self.messages.append((time.perf_counter(), starts))
            self.arrived.set()

    async def showing(self, after: int, predicate: Callable[[set[str]], bool]) -> float:
        """When the first message from index `after` on satisfied `predicate` arrived (bounded wait)."""
        deadline = time.perf_counter() + WAIT_SECONDS
        checked = after
        while True:
            for arrived, starts in self.messages[checked:]:
                if predicate(starts):
                    return arrived
            checked = len(self.messages)
            self.arrived.clear()
            left = deadline - time.perf_counter()
            if left <= 0:
                raise RuntimeError("the subscriber never saw the change")
            await asyncio.wait_for(self.arrived.wait(), left)


async def visible(http: httpx.AsyncClient, variables: dict[str, str], predicate: Callable[[set[str]], bool]) -> float:
    """availableSlots read back to back until an answer satisfies `predicate`; when that answer arrived."""
    deadline = time.perf_counter() + WAIT_SECONDS
    while time.perf_counter() < deadline:
        response = await http.post("/graphql", json={"query": SLOTS, "variables": variables})
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(body["errors"])
        if predicate({s["start"] for s in body["data"]["schedulingPage"]["availableSlots"]}):
            return time.perf_counter()
    raise RuntimeError("availableSlots never showed the change")


@dataclass(frozen=True)
class Latencies:
    to_visible: list[float]
    to_subscriber: list[float]
    setup_s: float


async def measure(provider: str, world: World, base: str) -> Latencies:
    state = world.states[provider]
    account = state.account(ACCOUNTS[provider])
    assert account is not None
    primary = account.primary_calendar_id
    window = {"s": NOW.isoformat(), "e": (NOW + timedelta(days=DAYS)).isoformat()}
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        token, slug = await owner(http, provider)
        setup_s = await until_pushed(http, token)
        variables = {"slug": slug, **window}
        subscriber = await Subscriber.open(base, token, variables)
        listening = asyncio.create_task(subscriber.listen())
        try:
            await subscriber.showing(0, lambda starts: True)
            free_slot = next(s for s in sorted(subscriber.messages[-1][1]) if datetime.fromisoformat(s) == KEPT_FREE[0])
            to_visible: list[float] = []
            to_subscriber: list[float] = []
            added: EmulatedEvent | None = None
            for change in range(CHANGES):
                blocking = added is None
                after = len(subscriber.messages)
                changed_at = time.perf_counter()
                if added is None:
                    added = state.add_event(primary, KEPT_FREE[0], KEPT_FREE[1], "Pushed change")
                else:
                    added.cancelled = True
                    added = None

                def shows(starts: set[str], blocking: bool = blocking) -> bool:
                    return (free_slot not in starts) if blocking else (free_slot in starts)

                seen, received = await asyncio.gather(visible(http, variables, shows), subscriber.showing(after, shows))
                notified = world.notifications[provider].first_after(changed_at)
                if notified is None:
                    raise RuntimeError(f"change {change}: no notification was sent")
                to_visible.append(seen - notified)
                to_subscriber.append(received - notified)
        finally:
            listening.cancel()
            await subscriber.socket.close()
    return Latencies(to_visible, to_subscriber, setup_s)


def _ms(values: list[float], q: float) -> str:
    if q == 1.0:
        return f"{max(values) * 1000:.0f}ms"
    return f"{statistics.median(values) * 1000:.0f}ms"


async def main() -> int:
    print(
        f"push latency: {CHANGES} changes per provider in a primary calendar (3 calendars x 1,000 events pushed),"
        " real uvicorn server (worker and poller in it, SQLite), https PUBLIC_URL routed to it"
    )
    print(f"{'provider':<10} {'to slots p50':>13} {'max':>7} {'to subscriber p50':>18} {'max':>7} {'setup':>7}")
    failed = False
    with emulators() as world, tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        for state in world.states.values():
            state.push_routes[PUBLIC_ORIGIN] = f"http://127.0.0.1:{port}"
        with server(f"sqlite+aiosqlite:///{Path(tmp) / 'push.db'}", world.base_url, port) as base:
            for provider in MOUNTS:
                r = await measure(provider, world, base)
                print(
                    f"{provider:<10} {_ms(r.to_visible, 0.5):>13} {_ms(r.to_visible, 1.0):>7}"
                    f" {_ms(r.to_subscriber, 0.5):>18} {_ms(r.to_subscriber, 1.0):>7} {r.setup_s:>6.1f}s"
                )
                failed |= max(r.to_visible + r.to_subscriber) > GOAL_SECONDS
    print(
        "from the emulator's notification (the start of its webhook POST) to the first availableSlots answer"
        " showing the change ('to slots') and to the subscriber's message showing it; goal <= 1 s;"
        " setup = connect to every calendar PUSH (first syncs, channels opened)"
    )
    if failed:
        print(f"FAILED: a change took more than {GOAL_SECONDS:.0f} s to show", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
