"""The `harness` fixture: each provider test taking it runs against Google, Office 365 and Exchange emulators."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator

import pytest

from providers.http import RetryPolicy
from tests.providers.harness import Harness, RecordedSleeps

PROVIDERS = ["google", "microsoft", "exchange", "exchange_basic"]


@pytest.fixture(params=PROVIDERS)
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    module = importlib.import_module(f"tests.providers.harness_{request.param}")
    sleeps = RecordedSleeps()
    policy = RetryPolicy(attempts=4, total_seconds=30, sleep=sleeps)
    async with module.make_harness(policy, sleeps) as h:
        yield h
