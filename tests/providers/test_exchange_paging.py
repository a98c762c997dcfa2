"""Big Exchange calendars: CalendarView paging (MaxEntriesReturned, sliding the window), the FindItem budget
(EWSFindCountLimit), views that never end, and the emulator paging and expanding series as Exchange does."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from emulators.exchange import create_exchange_emulator
from emulators.exchange_ews import EwsTraffic
from emulators.runner import serve_in_thread
from emulators.state import EmulatedRecurrence, EmulatorState
from providers.base import ProviderUnavailable
from providers.exchange import ExchangeCalendarProvider, ExchangeCredentials, connect_exchange
from providers.exchange.view import FIND_BUDGET, MAX_PAGES, PARALLEL_VIEWS, PageRequest, ViewItem, ViewPage, ViewPager
from providers.http import RetryPolicy
from providers.outbound import OutboundPolicy
from scheduling import booking_rules, slots
from scheduling.slots import BusyInterval
from tests.providers.harness import RecordedSleeps
from tests.providers.test_exchange import find_item_request
from tests.utils.calendars import primary_id
from tests.utils.clock import FakeClock
from tests.utils.connection import connect
from tests.utils.emulators import EXCHANGE_USER, World
from tests.utils.graphql import GraphQLClient, parse
from tests.utils.page import AVAILABLE_SLOTS, create_page
from tests.utils.user import create_user

OWNER = "owner@exchange.test"
T0 = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
FOURTEEN_DAYS = timedelta(days=14)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass
class InFlight:
    """Wraps the emulator app: counts EWS requests in flight and can rewrite every FindItem answer."""

    app: Asgi
    rewrite: Callable[[bytes], bytes] | None = None
    now: int = 0
    most: int = 0
    asked_now: int = 0
    """Items the FindItem CalendarViews in flight ask for together (their MaxEntriesReturned)."""
    asked_most: int = 0
    bodies: list[bytes] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/EWS/Exchange.asmx"):
            await self.app(scope, receive, send)
            return
        self.now += 1
        self.most = max(self.most, self.now)
        asked = 0

        async def read() -> MutableMapping[str, Any]:
            nonlocal asked
            message = await receive()
            found = re.search(rb'MaxEntriesReturned="(\d+)"', message.get("body", b""))
            if found and not asked:
                asked = int(found.group(1))
                self.asked_now += asked
                self.asked_most = max(self.asked_most, self.asked_now)
            return message

        try:
            await self.app(scope, read, self._send(send))
        finally:
            self.now -= 1
            self.asked_now -= asked

    def _send(self, send: Send) -> Send:
        async def rewritten(message: MutableMapping[str, Any]) -> None:
            if self.rewrite is not None and message["type"] == "http.response.body":
                message = {**message, "body": self.rewrite(message.get("body", b""))}
            elif self.rewrite is not None and message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message["headers"] if k.lower() != b"content-length"]
                message = {**message, "headers": headers}
            await send(message)

        return rewritten


@dataclass
class Mailbox:
    state: EmulatorState
    provider: ExchangeCalendarProvider
    traffic: EwsTraffic
    wire: InFlight
    base_url: str
    primary_id: str


@asynccontextmanager
async def mailbox(rewrite: Callable[[bytes], bytes] | None = None) -> AsyncIterator[Mailbox]:
    state = EmulatorState(id_prefix="AAMkAD")
    account = state.seed_demo(OWNER, "Owner")
    app = create_exchange_emulator(state, auth=("NTLM", "Basic"))  # Basic beside NTLM: the raw requests here log in
    wire = InFlight(app)
    with serve_in_thread(wire) as base_url:
        credentials = ExchangeCredentials(OWNER, account.password, ews_url=f"{base_url}/EWS/Exchange.asmx")
        policy = RetryPolicy(attempts=3, total_seconds=30, sleep=RecordedSleeps())
        outbound = OutboundPolicy.parse(urlsplit(base_url).netloc)
        provider, _ = await connect_exchange(credentials, retry=policy, outbound=outbound)
        wire.rewrite = rewrite
        try:
            yield Mailbox(state, provider, app.state.traffic, wire, base_url, account.primary_calendar_id)
        finally:
            await provider.aclose()


def seed_big_calendar(
    state: EmulatorState, calendar_id: str, count: int, *, burst: int = 600, morning_only: bool = False
) -> None:
    """`count` items in 14 days on a 15-minute grid (so many share a start), 1 in 7 free, 1 in 11 cancelled, some
    long ones overlapping many others, the first `burst` of them starting at one instant (more than one page).
    `morning_only`: every item starts before noon UTC and lasts at most two hours (afternoons stay free)."""
    rng = random.Random(7)
    burst_start = T0 + timedelta(days=6, hours=10)
    grid = (12 if morning_only else 24) * 4
    lengths = [1, 1, 2] if morning_only else [1, 1, 2, 30]
    for n in range(count):
        if n < burst:
            start = burst_start
        else:
            start = T0 + timedelta(days=rng.randrange(14), minutes=15 * rng.randrange(grid))
        length = timedelta(hours=rng.choice(lengths)) if n % 13 else timedelta(minutes=30)
        event = state.add_event(calendar_id, start, start + length, busy=n % 7 != 0)
        event.cancelled = n % 11 == 0


def truth(state: EmulatorState, calendar_id: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    return sorted((e.start, e.end) for e in state.busy(calendar_id, start, end))


# the provider ---------------------------------------------------------------------------
async def test_five_thousand_items_in_fourteen_days_give_exactly_the_busy_time() -> None:
    async with mailbox() as box:
        # given
        seed_big_calendar(box.state, box.primary_id, 5000)
        start, end = T0, T0 + FOURTEEN_DAYS
        # when
        busy = await box.provider.get_busy([box.primary_id], start, end)
        # then
        assert sorted((i.start, i.end) for i in busy.intervals[box.primary_id]) == truth(
            box.state, box.primary_id, start, end
        )
        assert box.traffic.view_sizes and all(size is not None and size <= 1000 for size in box.traffic.view_sizes)
        assert len(box.traffic.view_sizes) <= 5000 // (FIND_BUDGET // PARALLEL_VIEWS) + 4  # pages, not a loop


async def test_a_view_without_max_entries_over_the_limit_is_refused_by_the_emulator() -> None:
    async with mailbox() as box:
        # given
        seed_big_calendar(box.state, box.primary_id, 1001)
        view = f'<m:CalendarView StartDate="{T0.isoformat()}" EndDate="{(T0 + FOURTEEN_DAYS).isoformat()}"/>'
        # when
        answer = httpx.post(
            f"{box.base_url}/EWS/Exchange.asmx",
            content=find_item_request(box.primary_id, view),
            auth=(OWNER, box.state.accounts[OWNER].password),
        )
        # then
        assert 'ResponseClass="Error"' in answer.text
        assert "<m:ResponseCode>ErrorExceededFindCountLimit</m:ResponseCode>" in answer.text
        assert '<t:Value Name="PolicyLimit">1000</t:Value>' in answer.text


async def test_a_view_the_server_never_ends_is_unavailable_after_a_few_requests() -> None:
    # given: a server that says every page is truncated (IncludesLastItemInRange="false")
    def never_last(body: bytes) -> bytes:
        return body.replace(b'IncludesLastItemInRange="true"', b'IncludesLastItemInRange="false"')

    async with mailbox(rewrite=never_last) as box:
        seed_big_calendar(box.state, box.primary_id, 700)
        # when / then
        try:
            await asyncio.wait_for(box.provider.get_busy([box.primary_id], T0, T0 + FOURTEEN_DAYS), timeout=60)
        except ProviderUnavailable as exc:
            assert "calendar view" in exc.message
        else:
            raise AssertionError("a view that never ends gave busy time")
        assert len(box.traffic.view_sizes) <= 8


async def test_an_exhausted_find_budget_halves_the_page_then_is_unavailable() -> None:
    async with mailbox() as box:
        # given: the mailbox's other FindItems in flight hold its whole budget
        seed_big_calendar(box.state, box.primary_id, 50)
        box.state.find_count_in_use = box.state.find_count_limit
        # when / then
        try:
            await box.provider.get_busy([box.primary_id], T0, T0 + FOURTEEN_DAYS)
        except ProviderUnavailable as exc:
            assert "FindItem" in exc.message
        else:
            raise AssertionError("an exhausted FindItem budget gave busy time")
        share = FIND_BUDGET // PARALLEL_VIEWS
        assert box.traffic.view_sizes == [share, share // 2, share // 4, share // 8, share // 16]


async def test_a_partly_used_find_budget_still_gives_every_item() -> None:
    async with mailbox() as box:
        # given: only 300 items of the budget left (the server answers short pages, "not the last")
        seed_big_calendar(box.state, box.primary_id, 2000, burst=250)
        box.state.find_count_in_use = box.state.find_count_limit - 300
        # when
        busy = await box.provider.get_busy([box.primary_id], T0, T0 + FOURTEEN_DAYS)
        # then
        assert sorted((i.start, i.end) for i in busy.intervals[box.primary_id]) == truth(
            box.state, box.primary_id, T0, T0 + FOURTEEN_DAYS
        )


async def test_views_of_one_mailbox_share_the_find_budget() -> None:
    async with mailbox() as box:
        # given: three calendars, a window of three CalendarView spans, a slow server
        others = [c.id for c in box.state.calendars.values() if c.owner_email == OWNER and c.id != box.primary_id]
        third = box.state.add_calendar(OWNER, "Third").id
        calendars = [box.primary_id, *others, third]
        for cid in calendars:
            box.state.add_event(cid, T0 + timedelta(days=1), T0 + timedelta(days=1, hours=1))
        box.state.faults.latency_seconds = 0.05
        box.wire.most = 0
        # when
        await box.provider.get_busy(calendars, T0, T0 + timedelta(days=100))
        # then: views ran side by side, never asking together for more items than the mailbox's FindItem budget
        assert len(box.traffic.calendar_views) == 3 * len(calendars)
        assert box.wire.most > 1
        assert 0 < box.wire.asked_most <= 1000


async def test_a_page_over_five_thousand_exchange_items_offers_exactly_the_free_slots(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    # given: an Exchange-connected page in Berlin, 5,000 items in the 14 days asked for
    _, token = await create_user(gql, "ada@example.com")
    await connect(gql, http, token, "EXCHANGE")
    page = await create_page(gql, token, slug="big", timezone="Europe/Berlin")
    calendar_id = primary_id(world.exchange, EXCHANGE_USER)
    seed_big_calendar(world.exchange, calendar_id, 5000, morning_only=True)
    start, end = T0, T0 + FOURTEEN_DAYS
    # when
    data = await gql(AVAILABLE_SLOTS, {"slug": "big", "start": start.isoformat(), "end": end.isoformat()})
    offered = [(parse(s["start"]), parse(s["end"])) for s in data["schedulingPage"]["availableSlots"]]
    # then: the slots the rules give for the emulator's own busy time
    rules = booking_rules.slot_rules(
        weekly_hours=page["weeklyHours"],
        timezone=page["timezone"],
        duration_minutes=page["durationMinutes"],
        buffer_minutes=page["bufferMinutes"],
        minimum_notice_minutes=page["minimumNoticeMinutes"],
    )
    fetch_start, fetch_end = slots.busy_window_for(rules, start, end)
    busy = [BusyInterval(s, e) for s, e in truth(world.exchange, calendar_id, fetch_start, fetch_end)]
    expected = slots.compute_slots(rules, window_start=start, window_end=end, busy=busy, now=clock())
    assert offered == [(slot.start, slot.end) for slot in expected]
    assert offered  # the burst and the gaps leave some time free


# the pager (pure) ---------------------------------------------------------------------------
@dataclass
class FakeView:
    """A CalendarView as Exchange answers it: items overlapping the window (ending at its start included), sorted by
    start (ties in any order), at most `size` and at most `budget` of them."""

    items: list[ViewItem]
    budget: list[int]
    rng: random.Random

    def answer(self, request: PageRequest) -> ViewPage | None:
        budget = self.budget.pop(0) if self.budget else 1000
        if budget < 1:
            return None
        found = [i for i in self.items if i.end >= request.start and i.start < request.end]
        self.rng.shuffle(found)
        found.sort(key=lambda i: i.start)
        page = found[: min(request.size, budget)]
        return ViewPage(page, len(page) == len(found))


def items_strategy() -> st.SearchStrategy[list[ViewItem]]:
    minutes = st.integers(min_value=-600, max_value=3000)
    lengths = st.integers(min_value=0, max_value=1500)
    row = st.tuples(minutes, lengths, st.integers(min_value=1, max_value=40))
    return st.lists(row, max_size=60).map(
        lambda rows: [
            ViewItem(f"id{n}-{k}", T0 + timedelta(minutes=m), T0 + timedelta(minutes=m + length), "Busy", False)
            for n, (m, length, copies) in enumerate(rows)
            for k in range(copies)
        ]
    )


def read_view(pager: ViewPager, server: FakeView) -> int:
    """Pages the view to its end (or ProviderUnavailable); the number of requests sent."""
    requests = 0
    while (request := pager.next_request()) is not None:
        requests += 1
        page = server.answer(request)
        if page is None:
            pager.shrink()
        else:
            pager.take(page)
    return requests


def crowd(items: list[ViewItem], start: datetime) -> int:
    """The most items a page must hold before the window can slide past an instant: those overlapping it."""
    instants = [start, *(i.start for i in items if i.start >= start)]
    return max(sum(1 for i in items if i.start <= t <= i.end) for t in instants)


@settings(max_examples=150, deadline=None)
@given(items=items_strategy(), size=st.integers(min_value=2, max_value=50), seed=st.integers(0, 10**6))
def test_the_pager_reads_every_item_of_the_view(items: list[ViewItem], size: int, seed: int) -> None:
    # given
    start, end = T0, T0 + timedelta(minutes=2400)
    in_view = [i for i in items if i.end >= start and i.start < end]
    pager = ViewPager(start, end, size=size, max_size=4 * size)
    # when
    try:
        requests = read_view(pager, FakeView(items, [], random.Random(seed)))
    except ProviderUnavailable:
        # then: only when more items overlap one instant than the largest page holds
        assert crowd(in_view, start) >= 4 * size
        return
    assert set(pager.items) == {i.id for i in in_view}
    assert requests <= MAX_PAGES


@settings(max_examples=150, deadline=None)
@given(
    items=items_strategy(),
    budget=st.lists(st.integers(min_value=0, max_value=60), max_size=6),
    seed=st.integers(0, 10**6),
)
def test_the_pager_under_a_shared_find_budget_is_complete_or_gives_up_typed(
    items: list[ViewItem], budget: list[int], seed: int
) -> None:
    # given: the server answers fewer items than asked, or ErrorExceededFindCountLimit, while the budget is used
    start, end = T0, T0 + timedelta(minutes=2400)
    pager = ViewPager(start, end, size=40, max_size=160, min_size=2)
    # when
    try:
        requests = read_view(pager, FakeView(items, list(budget), random.Random(seed)))
    except ProviderUnavailable:
        return  # typed, and bounded: the loop ended
    # then
    assert set(pager.items) == {i.id for i in items if i.end >= start and i.start < end}
    assert requests <= MAX_PAGES


def test_a_server_that_ignores_the_sliding_start_is_given_up_quickly() -> None:
    # given: every answer is the same first page, "not the last"
    first = [
        ViewItem(f"id{n}", T0 + timedelta(minutes=n), T0 + timedelta(minutes=n + 30), "Busy", False) for n in range(5)
    ]
    pager = ViewPager(T0, T0 + timedelta(days=1), size=5, max_size=20)
    requests = 0
    # when / then
    try:
        while pager.next_request() is not None:
            requests += 1
            pager.take(ViewPage(first, last=False))
    except ProviderUnavailable:
        assert requests <= 4
    else:
        raise AssertionError("a view that never ends was read to its end")


# the emulator: paging and series ------------------------------------------------------------
def ews_post(box: Mailbox, body: str) -> str:
    answer = httpx.post(
        f"{box.base_url}/EWS/Exchange.asmx", content=body, auth=(OWNER, box.state.accounts[OWNER].password)
    )
    return answer.text


async def test_the_emulator_pages_a_calendar_view_honestly() -> None:
    async with mailbox() as box:
        # given
        for n in range(7):
            box.state.add_event(box.primary_id, T0 + timedelta(hours=n), T0 + timedelta(hours=n, minutes=30))
        window = f'StartDate="{T0.isoformat()}" EndDate="{(T0 + timedelta(days=1)).isoformat()}"'
        # when
        first = ews_post(box, find_item_request(box.primary_id, f'<m:CalendarView MaxEntriesReturned="5" {window}/>'))
        whole = ews_post(box, find_item_request(box.primary_id, f'<m:CalendarView MaxEntriesReturned="7" {window}/>'))
        indexed = ews_post(
            box,
            find_item_request(
                box.primary_id, '<m:IndexedPageItemView MaxEntriesReturned="3" Offset="3" BasePoint="Beginning"/>'
            ),
        )
        # then
        assert 'TotalItemsInView="7" IncludesLastItemInRange="false"' in first
        assert first.count("<t:CalendarItem>") == 5
        assert 'TotalItemsInView="7" IncludesLastItemInRange="true"' in whole
        assert 'IndexedPagingOffset="6" TotalItemsInView="7" IncludesLastItemInRange="false"' in indexed
        assert indexed.count("<t:CalendarItem>") == 3


async def test_the_emulator_expands_series_and_shows_all_day_items_in_a_calendar_view() -> None:
    async with mailbox() as box:
        # given: a weekly Monday/Wednesday series (4 occurrences) and an all-day event in Berlin
        series = box.state.add_event(
            box.primary_id,
            T0 + timedelta(hours=9),
            T0 + timedelta(hours=10),
            recurrence=EmulatedRecurrence("weekly", weekdays=(0, 2), count=4),
        )
        berlin_midnight = datetime(2026, 12, 8, 23, 0, tzinfo=UTC)
        box.state.add_event(
            box.primary_id, berlin_midnight, berlin_midnight + timedelta(days=1), all_day=True, timezone="Europe/Berlin"
        )
        window = f'StartDate="{T0.isoformat()}" EndDate="{(T0 + timedelta(days=30)).isoformat()}"'
        # when
        request = find_item_request(box.primary_id, f"<m:CalendarView {window}/>")
        answer = ews_post(box, request.replace(">IdOnly<", ">Default<"))
        # then
        starts = re.findall(r"<t:Start>([^<]+)</t:Start>", answer)
        assert starts == [
            "2026-12-07T09:00:00Z",
            "2026-12-08T23:00:00Z",
            "2026-12-09T09:00:00Z",
            "2026-12-14T09:00:00Z",
            "2026-12-16T09:00:00Z",
        ]
        assert answer.count("<t:CalendarItemType>Occurrence</t:CalendarItemType>") == 4
        assert answer.count("<t:IsRecurring>true</t:IsRecurring>") == 4
        assert answer.count("<t:IsAllDayEvent>true</t:IsAllDayEvent>") == 1
        assert len(set(re.findall(r'<t:ItemId Id="([^"]+)"', answer))) == 5
        assert series.id not in re.findall(r'<t:ItemId Id="([^"]+)"', answer)
