"""Exchange harness with a server that accepts Basic auth only (IIS with Windows authentication off)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from providers.http import RetryPolicy
from tests.providers import harness_exchange
from tests.providers.harness import Harness, RecordedSleeps


@asynccontextmanager
async def make_harness(policy: RetryPolicy, sleeps: RecordedSleeps) -> AsyncIterator[Harness]:
    async with harness_exchange.make_harness(policy, sleeps, auth=("Basic",)) as harness:
        yield harness
