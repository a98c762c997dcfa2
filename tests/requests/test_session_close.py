"""Context.close: it waits for the block that uses the request's session, and nothing reopens it afterwards."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from meetgraph.context import Context
from meetgraph.services import Services

BOUND = 5.0
"""Only bounds a broken test; nothing waits for it to pass."""


async def test_close_waits_for_the_block_in_flight(services: Services) -> None:
    # given: a block holds the request's session
    ctx = Context(services=services)
    entered, release = asyncio.Event(), asyncio.Event()
    order: list[str] = []

    async def resolver() -> int:
        async with ctx.db() as session:
            entered.set()
            await release.wait()
            value = (await session.execute(text("SELECT 1"))).scalar_one()
        order.append("block")
        return int(value)

    block = asyncio.create_task(resolver())
    await asyncio.wait_for(entered.wait(), BOUND)
    # when: the operation ends while the block is still running
    closing = asyncio.create_task(ctx.close())
    release.set()
    await asyncio.wait_for(closing, BOUND)
    order.append("closed")
    # then: the block finished its query on the open session before the session was closed
    assert await asyncio.wait_for(block, BOUND) == 1
    assert order == ["block", "closed"]
    assert ctx.closed
    assert services.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_block_after_close_brings_its_own_session(services: Services) -> None:
    # given
    ctx = Context(services=services)
    async with ctx.db() as first:
        await first.execute(text("SELECT 1"))
    await ctx.close()
    # when: a resolver the operation left behind starts only now
    async with ctx.db() as late:
        value = (await late.execute(text("SELECT 2"))).scalar_one()
    # then: it worked on a session of its own, closed with the block; the request's stays closed
    assert value == 2 and late is not first
    assert ctx._session is None
    assert services.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_close_cancels_a_block_that_outlives_the_grace(services: Services) -> None:
    # given: a block that never ends by itself
    ctx = Context(services=services, close_grace_seconds=0.05)
    entered = asyncio.Event()

    async def stuck() -> None:
        async with ctx.db() as session:
            await session.execute(text("SELECT 1"))
            entered.set()
            await asyncio.Event().wait()

    block = asyncio.create_task(stuck())
    await asyncio.wait_for(entered.wait(), BOUND)
    # when
    await asyncio.wait_for(ctx.close(), BOUND)
    # then
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(block, BOUND)
    assert services.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
