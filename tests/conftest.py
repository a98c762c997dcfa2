"""Fixtures: a clean database per test (SQLite, and PostgreSQL when configured), the app, clients."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from emulators.runner import serve_in_thread
from meetgraph.app import create_app
from meetgraph.services import Services
from meetgraph.settings import Settings
from providers.http import RetryPolicy
from tests.providers.harness import RecordedSleeps
from tests.utils import broadcast
from tests.utils.clock import FakeClock
from tests.utils.databases import POSTGRES_ENV, TemplateDatabases, pg_engine, postgres_url
from tests.utils.dns_server import DnsServer
from tests.utils.dns_server import dns_server as serve_dns
from tests.utils.emulators import EmulatorServer, World
from tests.utils.graphql import GraphQLClient
from tests.utils.live import Live, LiveDatabases, serve
from tests.utils.user import ADMIN_TOKEN


@pytest.fixture(scope="session")
def template_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemplateDatabases]:
    databases = TemplateDatabases(tmp_path_factory.mktemp("db-templates"))
    yield databases
    url = postgres_url()
    if url:
        import asyncio

        asyncio.run(databases.drop_postgres(url))


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres" and not postgres_url():
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    return str(request.param)


@pytest.fixture
def redis_url() -> str:
    url = broadcast.redis_url()
    if not url:
        pytest.skip(f"Redis tests need {broadcast.REDIS_ENV} (e.g. redis://127.0.0.1:6379/0)")
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> RecordedSleeps:
    return RecordedSleeps()


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[tuple[EmulatorServer, str]]:
    server = EmulatorServer()
    with serve_in_thread(server.app) as base_url:
        yield server, base_url


@pytest.fixture
def world(emulator_server: tuple[EmulatorServer, str]) -> World:
    """Fresh emulated Google, Microsoft and Exchange accounts (see tests/utils/emulators.py)."""
    return emulator_server[0].new_world()


@pytest.fixture(scope="session")
def dns_server() -> Iterator[DnsServer]:
    with serve_dns() as server:
        yield server


@pytest.fixture
def dns(dns_server: DnsServer) -> DnsServer:
    """The loopback DNS server every test's settings resolve through, with no records (see dns_server.py)."""
    dns_server.reset()
    return dns_server


@pytest.fixture
def settings(emulator_server: tuple[EmulatorServer, str], dns: DnsServer) -> Settings:
    base = Settings(
        database_url="sqlite+aiosqlite:///unused",
        admin_token=ADMIN_TOKEN,
        secret_key="test-secret-key-0123456789",
        public_url="http://meetgraph.test",
        dashboard_url="http://dashboard.test/meetings",
        broadcast_url="memory://",
        smtp_url=None,
        dns_nameservers=dns.nameservers,
        _env_file=None,  # type: ignore[call-arg]
    )
    return base.with_emulators(emulator_server[1])


@pytest.fixture
async def services(
    backend: str,
    settings: Settings,
    template_databases: TemplateDatabases,
    tmp_path: Path,
    clock: FakeClock,
    sleeps: RecordedSleeps,
) -> AsyncIterator[Services]:
    retry = RetryPolicy(attempts=3, total_seconds=30, sleep=sleeps)
    if backend == "sqlite":
        url = await template_databases.sqlite_url(tmp_path / "test.db")
        settings.database_url = url
        made = Services.create(settings, clock=clock, retry=retry)
    else:
        url = postgres_url()
        assert url
        await template_databases.reset_postgres(url)
        made = Services.create(settings, clock=clock, retry=retry, engine=pg_engine(url))
    await made.start()
    try:
        yield made
    finally:
        await made.stop()


@pytest.fixture
async def http(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(services.settings, services=services, migrate=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://meetgraph.test") as client:
        yield client


@pytest.fixture
async def databases(backend: str, template_databases: TemplateDatabases, tmp_path: Path) -> LiveDatabases:
    made = LiveDatabases(backend, template_databases, tmp_path)
    await made.prepare()
    return made


@pytest.fixture
async def live(settings: Settings, databases: LiveDatabases, clock: FakeClock) -> AsyncIterator[Live]:
    async with serve(settings, databases, clock) as server:
        yield server


@pytest.fixture
def gql(http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http)


@pytest.fixture(autouse=True)
def _quiet_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.INFO, logger="meetgraph")
    yield
