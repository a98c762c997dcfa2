"""The LoginGate on its own: one sign-in leads, concurrent calls follow it once it got through, nothing after a
refusal."""

from __future__ import annotations

import asyncio

import pytest

from providers.base import AccountLockedOut, LoginGate, ProviderAuthError, ProviderUnavailable

BOUND = 5.0


class Server:
    """Counts calls; each call waits for `answer` to be set, then answers (or raises) what the test chose."""

    def __init__(self, failure: Exception | None = None) -> None:
        self.calls = 0
        self.running = 0
        self.answer = asyncio.Event()
        self.failure = failure
        self.started = asyncio.Condition()

    async def __call__(self) -> str:
        self.calls += 1
        self.running += 1
        async with self.started:
            self.started.notify_all()
        try:
            await self.answer.wait()
            if self.failure is not None:
                raise self.failure
            return "ok"
        finally:
            self.running -= 1

    async def wait_running(self, count: int) -> None:
        async with self.started:
            await asyncio.wait_for(self.started.wait_for(lambda: self.running >= count), BOUND)


async def through(gate: LoginGate, server: Server) -> str:
    """A call through the gate as the Exchange provider wrapper makes it."""
    if not await gate.enter():
        return await server()
    try:
        result = await server()
    except BaseException as exc:
        gate.led(exc)
        raise
    gate.led(None)
    return result


async def test_a_refused_lead_stops_every_concurrent_and_later_call() -> None:
    # given
    gate, server = LoginGate(), Server(ProviderAuthError("refused"))
    calls = [asyncio.create_task(through(gate, server)) for _ in range(10)]
    await server.wait_running(1)
    # when
    server.answer.set()
    results = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), BOUND)
    # then
    assert server.calls == 1
    assert all(isinstance(r, ProviderAuthError) for r in results)
    with pytest.raises(ProviderAuthError):
        await through(gate, server)
    assert server.calls == 1


async def test_followers_run_in_parallel_once_the_lead_got_through() -> None:
    # given: a lead in flight and nine calls waiting for it
    gate, lead_server, server = LoginGate(), Server(), Server()
    lead = asyncio.create_task(through(gate, lead_server))
    await lead_server.wait_running(1)
    followers = [asyncio.create_task(through(gate, server)) for _ in range(9)]
    await asyncio.sleep(0)
    assert server.calls == 0
    # when
    lead_server.answer.set()
    # then: all nine are at the server at once
    await server.wait_running(9)
    server.answer.set()
    assert await asyncio.wait_for(asyncio.gather(lead, *followers), BOUND) == ["ok"] * 10


async def test_a_lead_that_failed_otherwise_hands_over_to_one_waiting_call() -> None:
    # given
    gate, failing, server = LoginGate(), Server(ProviderUnavailable("down")), Server()
    lead = asyncio.create_task(through(gate, failing))
    await failing.wait_running(1)
    waiting = [asyncio.create_task(through(gate, server)) for _ in range(3)]
    # when
    failing.answer.set()
    # then: one of the waiting calls leads alone, the others follow it
    await server.wait_running(1)
    assert server.calls == 1
    server.answer.set()
    assert await asyncio.wait_for(asyncio.gather(*waiting), BOUND) == ["ok"] * 3
    with pytest.raises(ProviderUnavailable):
        await lead


async def test_a_lockout_stays_a_lockout_for_the_calls_refused_after_it() -> None:
    # given
    gate, server = LoginGate(), Server(AccountLockedOut("locked"))
    server.answer.set()
    with pytest.raises(AccountLockedOut):
        await through(gate, server)
    # when / then
    with pytest.raises(AccountLockedOut):
        await through(gate, server)
    assert server.calls == 1
