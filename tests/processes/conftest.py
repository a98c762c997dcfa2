"""Real `meetgraph serve` / `meetgraph worker` processes (tests/utils/processes.py) on a fresh database each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.utils.databases import POSTGRES_ENV, postgres_url
from tests.utils.emulators import EmulatorServer
from tests.utils.processes import Processes, database_url


async def _processes(backend: str, tmp_path: Path, emulators_url: str) -> AsyncIterator[Processes]:
    async with database_url(backend, tmp_path) as url:
        made = Processes(tmp_path, url, emulators_url)
        try:
            yield made
        finally:
            await made.close()


@pytest.fixture
async def processes(tmp_path: Path, emulator_server: tuple[EmulatorServer, str]) -> AsyncIterator[Processes]:
    """Processes on a SQLite file."""
    async for made in _processes("sqlite", tmp_path, emulator_server[1]):
        yield made


@pytest.fixture
async def pg_processes(tmp_path: Path, emulator_server: tuple[EmulatorServer, str]) -> AsyncIterator[Processes]:
    """Processes on a PostgreSQL database of their own."""
    if not postgres_url():
        pytest.skip(f"scale-out tests need {POSTGRES_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    async for made in _processes("postgres", tmp_path, emulator_server[1]):
        yield made
