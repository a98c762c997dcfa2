"""bookingAttempts subscriptions through a Redis that is stopped and started again (a redis-server of the
test's own, on a free port): they resume, and /readyz tells the outage while /healthz stays alive."""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta
from typing import Any

import pytest

from meetgraph.settings import Settings
from tests.subscriptions.conftest import GraphQLWebSocket, authorized
from tests.utils.attempts import ATTEMPTS, SLOT, summary
from tests.utils.clock import FakeClock
from tests.utils.live import SAFETY_TIMEOUT, Live, LiveDatabases, serve
from tests.utils.meeting import book
from tests.utils.page import create_page
from tests.utils.redis_server import RedisServer
from tests.utils.user import create_user


async def readiness_becomes(live: Live, status_code: int) -> dict[str, Any]:
    """Poll /readyz until it answers `status_code` (bounded); its body."""
    deadline = asyncio.get_running_loop().time() + SAFETY_TIMEOUT
    while True:
        response = await live.http.get("/readyz")
        if response.status_code == status_code:
            body: dict[str, Any] = response.json()
            return body
        assert asyncio.get_running_loop().time() < deadline, f"/readyz still {response.status_code}"
        await asyncio.sleep(0.05)


async def each_gets_requested(live: Live, subscriptions: dict[str, GraphQLWebSocket], hours: int) -> None:
    """Book the `hours`-later slot; every subscription receives that attempt next."""
    result = await book(live.gql, "ada", SLOT + timedelta(hours=hours))
    assert result["__typename"] == "BookMeetingSuccess"
    expected = ("REQUESTED", "ada", "carla@example.com", SLOT + timedelta(hours=hours))
    for operation_id, client in subscriptions.items():
        assert summary(await client.next_data(operation_id)) == expected, operation_id


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL])
async def test_subscriptions_resume_and_readiness_recovers_after_redis_restarts(
    settings: Settings, databases: LiveDatabases, clock: FakeClock, own_redis: RedisServer, stop_signal: signal.Signals
) -> None:
    # given: a server on our own Redis with two live subscriptions that receive
    on_redis = settings.model_copy(update={"broadcast_url": own_redis.url})
    async with serve(on_redis, databases, clock) as live:
        ada_id, ada = await create_user(live.gql, "ada@example.com")
        await create_page(live.gql, ada, slug="ada", timezone="Europe/Berlin")
        async with authorized(live, ada) as first, authorized(live, ada) as second:
            await first.subscribe("a", ATTEMPTS)
            await second.subscribe("b", ATTEMPTS)
            await live.listening.wait(ada_id, 2)
            await each_gets_requested(live, {"a": first, "b": second}, hours=0)
            assert (await live.http.get("/readyz")).status_code == 200

            # when: Redis stops
            own_redis.stop(stop_signal)

            # then: not ready, because of the broadcast alone; still alive
            down = await readiness_becomes(live, 503)
            assert down == {"status": "unavailable", "checks": {"database": "ok", "broadcast": "unavailable"}}
            assert (await live.http.get("/healthz")).status_code == 200
            # and bookings go on: their attempts are stored, and reach the subscribers once Redis is back
            clock.advance(minutes=1)
            outage_slots = [SLOT + timedelta(hours=hours) for hours in (3, 4, 5)]
            for start in outage_slots:
                assert (await book(live.gql, "ada", start))["__typename"] == "BookMeetingSuccess"

            clock.advance(minutes=5)
            async with authorized(live, ada) as during:
                await during.subscribe("c", ATTEMPTS)  # begun while Redis is down

                # when: Redis is back on the same port
                own_redis.start()

                # then: ready again; the subscriptions from before and the one begun during the outage
                # receive what is booked now
                up = await readiness_becomes(live, 200)
                assert up == {"status": "ok", "checks": {"database": "ok", "broadcast": "ok"}}
                await live.listening.wait(ada_id, 3)
                expected = {("REQUESTED", "ada", "carla@example.com", start) for start in outage_slots}
                # (caught up from the attempts table when the subscription is back, whatever became of
                # their publishing: published into the stopping Redis, or still waiting for a retry); the
                # subscription begun later gets what happens from then on
                for operation_id, client in {"a": first, "b": second}.items():
                    got = {summary(await client.next_data(operation_id)) for _ in outage_slots}
                    assert got == expected, operation_id
                await each_gets_requested(live, {"a": first, "b": second, "c": during}, hours=1)

                # and a subscription begun afterwards works beside them
                async with authorized(live, ada) as after:
                    await after.subscribe("d", ATTEMPTS)
                    await live.listening.wait(ada_id, 4)
                    await each_gets_requested(live, {"a": first, "b": second, "c": during, "d": after}, hours=2)
