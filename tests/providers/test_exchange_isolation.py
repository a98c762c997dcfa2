"""One slow tenant never stalls another: Exchange calls on their own bounded runtime, a limit and a circuit breaker
per EWS endpoint, folders opened by well-known id (no exchangelib process-wide lock), autodiscover answers cached.

Tenants on a black-hole server (tests/utils/blackhole.py: accepts, never answers) beside tenants on the Exchange
emulator with 200 ms latency, over real sockets. Timing is only asserted where the issue states a bound ("within
2x"), as a ratio to a baseline measured in the same test."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import requests
from exchangelib.errors import ErrorTimeoutExpired, UnauthorizedError

from emulators.exchange import create_exchange_emulator
from emulators.runner import serve_in_thread
from emulators.state import EmulatorState
from providers.base import EventDraft, ProviderUnavailable
from providers.exchange import ExchangeAccounts, ExchangeCalendarProvider, ExchangeCredentials
from providers.exchange.session import (
    BreakerState,
    CircuitBreaker,
    DiscoveredUrls,
    ExchangeRuntime,
    endpoint_of,
    not_answering,
)
from providers.http import RetryPolicy
from providers.outbound import OutboundPolicy
from tests.utils.blackhole import BlackHole

LATENCY = 0.2
"""The emulator's latency on every EWS request (a real on-prem server across the internet)."""
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
NO_RETRY = RetryPolicy(attempts=1)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    """One Exchange emulator (healthy tenants) and one black hole (the slow tenant), both allowed outbound."""

    state: EmulatorState
    base_url: str
    hole: BlackHole

    @property
    def outbound(self) -> OutboundPolicy:
        return OutboundPolicy.parse(f"{self.base_url.split('//', 1)[1]},{self.hole.netloc}")

    def healthy(self, name: str) -> ExchangeCredentials:
        """A mailbox nobody opened yet, on the emulator."""
        email = f"{name}@tenant-b.test"
        account = self.state.add_account(email, name)
        return ExchangeCredentials(email, account.password, ews_url=f"{self.base_url}/EWS/Exchange.asmx")

    def slow(self, name: str) -> ExchangeCredentials:
        return ExchangeCredentials(
            f"{name}@tenant-a.test", "secret", ews_url=f"http://{self.hole.netloc}/EWS/Exchange.asmx"
        )


@contextmanager
def world() -> Iterator[World]:
    state = EmulatorState(id_prefix="AAMkAD")
    state.faults.latency_seconds = LATENCY
    with BlackHole() as hole, serve_in_thread(create_exchange_emulator(state)) as base_url:
        yield World(state, base_url, hole)


def draft(n: int) -> EventDraft:
    start = T0 + timedelta(hours=n)
    return EventDraft(summary=f"Meeting {n}", start=start, end=start + timedelta(minutes=30), key=f"key-{n}")


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


async def first_booking(provider: ExchangeCalendarProvider, n: int) -> float:
    """A booking in a mailbox this process never opened: auth probe, version guess, key lookup, CreateItem."""

    async def book() -> None:
        calendars = await provider.list_calendars()
        await provider.create_event(calendars[0].id, draft(n))

    return await timed(book)


def provider_for(
    credentials: ExchangeCredentials, w: World, runtime: ExchangeRuntime, accounts: ExchangeAccounts
) -> ExchangeCalendarProvider:
    return ExchangeCalendarProvider(
        credentials, retry=NO_RETRY, accounts=accounts, outbound=w.outbound, runtime=runtime
    )


async def test_a_black_hole_tenant_leaves_another_tenants_first_booking_within_2x() -> None:
    # given a runtime as the app wires it (defaults of Settings: 16 threads, 4 per server, 5 s connect timeout)
    runtime = ExchangeRuntime()
    accounts = ExchangeAccounts(timeout=runtime.timeout)
    slow_calls: list[asyncio.Task[object]] = []
    with world() as w:
        try:
            alone = [
                await first_booking(provider_for(w.healthy(f"alone{i}"), w, runtime, accounts), i) for i in range(3)
            ]
            # when 8 visitors look at the slow tenant's page and its first booking is in flight
            slow = provider_for(w.slow("owner"), w, runtime, accounts)
            slow_calls += [
                asyncio.create_task(slow.get_busy(["calendar"], T0, T0 + timedelta(days=7))) for _ in range(8)
            ]
            slow_calls.append(asyncio.create_task(slow.create_event("calendar", draft(99))))
            await w.hole.until_accepted(1)  # (the slow tenant's calls share its one version guess: one connection)
            loaded = [
                await first_booking(provider_for(w.healthy(f"busy{i}"), w, runtime, accounts), 10 + i) for i in range(3)
            ]
            # then the healthy tenant's bookings stay within 2x of their time alone (the bound)
            ratio = max(loaded) / statistics.median(alone)
            assert ratio < 2.0, f"alone {alone}, beside the black hole {loaded}"
            # and the slow server never held more connections than its limit
            assert w.hole.accepted <= runtime.server_concurrency
        finally:
            w.hole.__exit__()  # the held connections drop: the slow tenant's threads end now
            for task in slow_calls:
                task.cancel()
            await asyncio.gather(*slow_calls, return_exceptions=True)
            runtime.close()
            accounts.close()


async def test_fifty_first_views_leave_the_default_thread_pool_free() -> None:
    # given 50 mailboxes nobody opened yet, on a server 200 ms away
    runtime = ExchangeRuntime()
    accounts = ExchangeAccounts(timeout=runtime.timeout)
    loop = asyncio.get_running_loop()
    week = (T0, T0 + timedelta(days=7))
    with world() as w:
        try:
            mailboxes = [w.healthy(f"m{i}") for i in range(51)]

            async def first_view(credentials: ExchangeCredentials) -> None:
                provider = provider_for(credentials, w, runtime, accounts)
                calendars = await provider.list_calendars()
                await provider.get_busy([calendars[0].id], *week)

            one_view = await timed(lambda: first_view(mailboxes[0]))
            # when the 50 first views run at once, other thread-pool work (a DNS lookup) goes on beside them
            views = asyncio.gather(*(first_view(m) for m in mailboxes[1:]))
            lookups: list[float] = []
            while not views.done():
                lookups.append(await timed(lambda: loop.getaddrinfo("localhost", 443)))
                await asyncio.wait({views}, timeout=0.05)
            await views
            # then no lookup waited for Exchange work (each took a small part of one first view)
            assert len(lookups) > 5
            assert max(lookups) / one_view < 0.25, f"one view {one_view:.3f}s, lookups {sorted(lookups)[-5:]}"
        finally:
            runtime.close()
            accounts.close()


async def test_an_endpoint_holds_at_most_its_limit_of_threads_and_waiters_give_up() -> None:
    # given a slow server with 5 mailboxes and a runtime allowing 2 calls per server, waiting 0.3 s for a turn
    runtime = ExchangeRuntime(threads=8, server_concurrency=2, wait_seconds=0.3)
    with world() as w:
        mailboxes = [
            ExchangeCalendarProvider(w.slow(f"user{i}"), retry=NO_RETRY, outbound=w.outbound, runtime=runtime)
            for i in range(5)
        ]
        calls = [asyncio.create_task(m.get_busy(["calendar"], T0, T0 + timedelta(days=1))) for m in mailboxes]
        try:
            # when a call goes to each
            await asyncio.wait(calls, timeout=10, return_when=asyncio.FIRST_COMPLETED)
            await w.hole.until_accepted(2)
            # then 3 gave up waiting for their turn, without a thread or a connection
            given_up = [c for c in calls if c.done()]
            assert len(given_up) == 3
            assert all(isinstance(c.exception(), ProviderUnavailable) for c in given_up)
            assert w.hole.accepted == 2
        finally:
            w.hole.__exit__()
            for call in calls:
                call.cancel()
            await asyncio.gather(*calls, return_exceptions=True)
            for mailbox in mailboxes:
                await mailbox.aclose()
            runtime.close()


async def test_a_server_not_answering_opens_its_breaker_and_calls_fail_fast() -> None:
    # given a slow server answering nothing within a 0.3 s read timeout
    clock = Clock()
    runtime = ExchangeRuntime(threads=4, read_timeout=0.3, breaker_threshold=2, breaker_cooldown=60, clock=clock)
    with world() as w:
        slow = ExchangeCalendarProvider(w.slow("owner"), retry=NO_RETRY, outbound=w.outbound, runtime=runtime)
        window = (T0, T0 + timedelta(days=1))
        try:
            # when two calls time out
            for _ in range(2):
                with pytest.raises(ProviderUnavailable):
                    await slow.get_busy(["calendar"], *window)
            reached = w.hole.accepted
            # then the next fails at once, without connecting
            with pytest.raises(ProviderUnavailable) as failed:
                await slow.get_busy(["calendar"], *window)
            assert w.hole.accepted == reached
            assert "not answering" in failed.value.message
            assert runtime.breaker(endpoint_of(w.slow("owner").ews_url or "")).state is BreakerState.OPEN
            # and after the cool-down one probe goes to the server again
            clock.now += 60
            with pytest.raises(ProviderUnavailable):
                await slow.get_busy(["calendar"], *window)
            assert w.hole.accepted > reached
        finally:
            await slow.aclose()
            runtime.close()


async def test_refused_logins_do_not_open_the_breaker() -> None:
    # given a healthy server and a wrong password, a runtime whose breaker opens after 2 unanswered calls
    runtime = ExchangeRuntime(threads=4, breaker_threshold=2)
    with world() as w:
        good = w.healthy("refused")
        wrong = ExchangeCredentials(good.email, "wrong", ews_url=good.ews_url)
        provider = ExchangeCalendarProvider(wrong, retry=NO_RETRY, outbound=w.outbound, runtime=runtime)
        try:
            # when the login is refused three times
            for _ in range(3):
                with pytest.raises(Exception) as refused:
                    await provider.list_calendars()
                assert not isinstance(refused.value, ProviderUnavailable)
            # then the endpoint stays closed
            assert runtime.breaker(endpoint_of(good.ews_url or "")).state is BreakerState.CLOSED
        finally:
            runtime.close()


def test_breaker_opens_after_consecutive_unanswered_calls_and_lets_one_probe_through() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, cooldown=30, clock=clock)
    for _ in range(2):
        assert breaker.admit()
        breaker.record(answered=False)
    assert breaker.admit()
    breaker.record(answered=True)  # an answer resets the count
    for _ in range(3):
        assert breaker.admit()
        breaker.record(answered=False)
    assert breaker.state is BreakerState.OPEN
    assert not breaker.admit()
    clock.now += 29.9
    assert not breaker.admit()
    clock.now += 0.1
    assert breaker.admit()  # the probe
    assert not breaker.admit()  # only one
    breaker.record(answered=False)
    assert breaker.state is BreakerState.OPEN
    clock.now += 30
    assert breaker.admit()
    breaker.record(answered=True)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.admit() and breaker.admit()


def test_an_abandoned_probe_lets_the_next_call_probe() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cooldown=10, clock=clock)
    breaker.record(answered=False)
    clock.now += 10
    assert breaker.admit()
    breaker.abandon()
    assert breaker.admit()


def timed_out() -> Exception:
    """What exchangelib raises when a request gets no answer (its 'Reraised from' ErrorTimeoutExpired)."""
    try:
        try:
            raise requests.ReadTimeout("read timed out")
        except requests.ReadTimeout as exc:
            raise ErrorTimeoutExpired(f"Reraised from {exc!r}") from None
    except ErrorTimeoutExpired as outer:
        outer.__context__ = requests.ReadTimeout("read timed out")
        return outer


@pytest.mark.parametrize(
    ("failure", "unanswered"),
    [
        (timed_out(), True),
        (requests.ConnectTimeout("connect timed out"), True),
        (requests.ConnectionError("refused"), True),
        (requests.exceptions.SSLError("certificate verify failed"), False),
        (UnauthorizedError("Wrong username or password"), False),
        (ErrorTimeoutExpired("the server's own SOAP timeout"), False),
    ],
)
def test_only_a_server_not_answering_counts_against_the_breaker(failure: Exception, unanswered: bool) -> None:
    assert not_answering(failure) is unanswered


def test_discovered_urls_expire_and_can_be_forgotten() -> None:
    clock = Clock()
    urls = DiscoveredUrls(ttl=24 * 3600, clock=clock)
    urls.put("Owner@Example.test", None, "https://mail.example.test/EWS/Exchange.asmx")
    assert urls.get("owner@example.test", None) == "https://mail.example.test/EWS/Exchange.asmx"
    assert urls.get("owner@example.test", "https://other/autodiscover") is None
    clock.now += 24 * 3600
    assert urls.get("owner@example.test", None) is None
    urls.put("owner@example.test", None, "https://mail.example.test/EWS/Exchange.asmx")
    urls.forget("owner@example.test", None)
    assert urls.get("owner@example.test", None) is None


def test_endpoints_are_scheme_host_and_port() -> None:
    assert endpoint_of("https://Mail.Example.test/EWS/Exchange.asmx") == "https://mail.example.test:443"
    assert endpoint_of("http://10.0.0.5:8080/EWS/Exchange.asmx") == "http://10.0.0.5:8080"
    assert endpoint_of("https://mail.example.test/EWS/a") == endpoint_of("https://mail.example.test:443/EWS/b")


async def test_a_mailbox_that_moved_is_discovered_again_once_and_remembered() -> None:
    # given a mailbox now on the new server, its stored EWS URL still on the old one (which authenticates the
    # login, as the organisation's servers all do, but hosts no such mailbox)
    old, new = EmulatorState(id_prefix="AAMkAD"), EmulatorState(id_prefix="AAMkAE")
    moved = new.add_account("owner@new.test", "Owner")
    old.add_account("owner@old.test", "Owner", password=moved.password)
    runtime = ExchangeRuntime(threads=4)
    with (
        serve_in_thread(create_exchange_emulator(old)) as old_url,
        serve_in_thread(create_exchange_emulator(new)) as new_url,
    ):
        outbound = OutboundPolicy.parse(f"{old_url.split('//', 1)[1]},{new_url.split('//', 1)[1]}")
        stored = ExchangeCredentials(moved.email, moved.password, "owner", f"{old_url}/EWS/Exchange.asmx")

        def provider() -> ExchangeCalendarProvider:
            return ExchangeCalendarProvider(
                stored,
                retry=NO_RETRY,
                outbound=outbound,
                runtime=runtime,
                rediscover=True,
                autodiscover_url=f"{new_url}/autodiscover/autodiscover.svc",
            )

        try:
            # when the old server says the mailbox is not there
            first = provider()
            calendars = await first.list_calendars()
            # then autodiscover named the new server and the call went there
            assert [c.id for c in calendars if c.is_primary] == [moved.primary_calendar_id]
            assert (first.credentials.ews_url or "").startswith(new_url)
            # and the next provider for the mailbox goes to the new server directly
            again = provider()
            assert (again.credentials.ews_url or "").startswith(new_url)
            assert len(await again.list_calendars()) == len(calendars)
            await first.aclose()
            await again.aclose()
        finally:
            runtime.close()
