"""Real `meetgraph serve` and `meetgraph worker` processes on a test's database, to kill, stop and restart.

The emulators stay in the pytest process (the session's in-thread emulator server), so they outlive every
server process and a test can look at what a dead process left in the calendars. Each process writes its
stderr to a file under the test's tmp_path; every bounded wait that gives up says what the processes logged.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from db.engine import make_engine, make_sessionmaker
from db.models import Job, JobState
from emulators.runner import free_port
from meetgraph.settings import Settings
from tests.utils.databases import asyncpg_url, postgres_url
from tests.utils.user import ADMIN_TOKEN

STARTUP_TIMEOUT = 20.0
"""How long a process may take to answer /healthz (imports and migrations included)."""
WAIT_TIMEOUT = 20.0
"""Bounds every wait on a condition; nothing waits for it to pass."""
POLL = 0.05

PROVIDER_ENV = {
    "google_auth_url": "MEETGRAPH_GOOGLE_AUTH_URL",
    "google_token_url": "MEETGRAPH_GOOGLE_TOKEN_URL",
    "google_userinfo_url": "MEETGRAPH_GOOGLE_USERINFO_URL",
    "google_api_url": "MEETGRAPH_GOOGLE_API_URL",
    "microsoft_auth_url": "MEETGRAPH_MICROSOFT_AUTH_URL",
    "microsoft_token_url": "MEETGRAPH_MICROSOFT_TOKEN_URL",
    "microsoft_graph_url": "MEETGRAPH_MICROSOFT_GRAPH_URL",
    "exchange_autodiscover_url": "MEETGRAPH_EXCHANGE_AUTODISCOVER_URL",
    "exchange_private_networks": "MEETGRAPH_EXCHANGE_PRIVATE_NETWORKS",
}


KICKED_ONLY = {"MEETGRAPH_JOB_POLL_SECONDS": "60"}
"""The in-process worker wakes only when its own process enqueues (a poll could take a request's job first, so
the request would not run it): for tests that hold a request's job in the emulator."""
POLLING = {"MEETGRAPH_JOB_POLL_SECONDS": "0.1"}
"""The worker looks often: a restarted process takes up a dead one's jobs as soon as their lease ends."""


def base_env(database_url: str, emulators_url: str) -> dict[str, str]:
    """What every process of a test shares: the database, keys, the emulators, short leases and polls."""
    providers = Settings(_env_file=None).with_emulators(emulators_url)  # type: ignore[call-arg]
    env = {name: str(getattr(providers, key)) for key, name in PROVIDER_ENV.items()}
    env.update(
        {
            "MEETGRAPH_DATABASE_URL": database_url,
            "MEETGRAPH_SECRET_KEY": "process-test-secret-key-0123456789",
            "MEETGRAPH_ADMIN_TOKEN": ADMIN_TOKEN,
            "MEETGRAPH_JOB_LEASE_SECONDS": "2",
            **POLLING,
            "MEETGRAPH_JOB_BACKOFF_SECONDS": "0.2",
            "MEETGRAPH_JOB_BACKOFF_MAX_SECONDS": "1",
            "MEETGRAPH_SHUTDOWN_GRACE_SECONDS": "10",
        }
    )
    return env


@dataclass
class Process:
    """One `meetgraph <command>` subprocess; `start` again after `kill` or `stop` restarts it (same port)."""

    command: str
    env: dict[str, str]
    workdir: Path
    name: str
    port: int = field(default_factory=free_port)
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0
    log_level: str = "warning"
    """`serve --log-level`: "info" shows uvicorn's access log."""
    options: tuple[str, ...] = ()
    """More command-line options, e.g. `--emulators` for `serve`."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    @property
    def log(self) -> Path:
        return self.workdir / f"{self.name}.{self.starts}.log"

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "meetgraph.cli", self.command]
        if self.command == "serve":
            argv += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", self.log_level]
        return [*argv, *self.options]

    async def start(self, **env: str | None) -> Process:
        """Start (again), with `env` changed for this run (None removes a variable); a server until /healthz
        answers, a worker until it says it runs."""
        assert not self.running, f"{self.name} is running"
        for key, value in env.items():
            if value is None:
                self.env.pop(key, None)
            else:
                self.env[key] = value
        self.starts += 1
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("MEETGRAPH_")}
        with self.log.open("wb") as log:
            self.popen = subprocess.Popen(  # the workdir has no .env: the settings are the env alone
                self.argv(), env={**inherited, **self.env}, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT
            )
        if self.command == "serve":
            await wait_until(self._healthy, f"{self.name} answers /healthz", [self], timeout=STARTUP_TIMEOUT)
        else:
            await wait_until(self._worker_up, f"{self.name} runs", [self], timeout=STARTUP_TIMEOUT)
        return self

    async def _healthy(self) -> bool:
        assert self.running, f"{self.name} exited with {self.returncode}"
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(f"{self.url}/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    async def _worker_up(self) -> bool:
        assert self.running, f"{self.name} exited with {self.returncode}"
        return " running" in self.output()

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def kill(self) -> int:
        """SIGKILL: no clean-up, no shutdown; what is committed stays, what is not is gone."""
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        return self.popen.wait(timeout=WAIT_TIMEOUT)

    def terminate(self) -> None:
        """SIGTERM: the graceful shutdown starts; `exited` waits for its end."""
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)

    async def exited(self, timeout: float = WAIT_TIMEOUT) -> int:
        await wait_until(lambda: self.returncode is not None, f"{self.name} exits", [self], timeout=timeout)
        code = self.returncode
        assert code is not None
        return code

    async def listening(self) -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        writer.close()
        return True

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def client(self) -> httpx.AsyncClient:
        """A client for this server that survives its restarts (no kept-alive connections to a dead process)."""
        limits = httpx.Limits(max_keepalive_connections=0)
        return httpx.AsyncClient(base_url=self.url, timeout=WAIT_TIMEOUT, limits=limits)


def describe(processes: list[Process]) -> str:
    parts = []
    for process in processes:
        tail = "\n".join(process.output().splitlines()[-40:])
        parts.append(f"--- {process.name} (exit {process.returncode}), {process.log}:\n{tail}")
    return "\n".join(parts)


async def wait_until(
    condition: Callable[[], Awaitable[bool] | bool],
    what: str,
    processes: list[Process],
    timeout: float = WAIT_TIMEOUT,
) -> None:
    """Poll `condition` until it holds; after `timeout` seconds fail, with the processes' logs."""
    deadline = time.monotonic() + timeout
    while True:
        outcome = condition()
        if not isinstance(outcome, bool):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout}s waiting until {what}\n{describe(processes)}")
        await asyncio.sleep(POLL)


class Processes:
    """The processes of one test, on one database; every one still running at the end is killed."""

    def __init__(self, workdir: Path, database_url: str, emulators_url: str) -> None:
        self.workdir = workdir
        self.database_url = database_url
        self.env = base_env(database_url, emulators_url)
        self.all: list[Process] = []
        self._engine: AsyncEngine | None = None

    def server(self, name: str = "serve", **env: str) -> Process:
        return self._add("serve", name, env)

    def worker(self, name: str = "worker", **env: str) -> Process:
        return self._add("worker", name, env)

    def _add(self, command: str, name: str, env: dict[str, str]) -> Process:
        process = Process(command, {**self.env, **env}, self.workdir, name)
        self.all.append(process)
        return process

    async def wait_until(
        self, condition: Callable[[], Awaitable[bool] | bool], what: str, timeout: float = WAIT_TIMEOUT
    ) -> None:
        await wait_until(condition, what, self.all, timeout)

    async def cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """`meetgraph <args>` against the test's database (e.g. `jobs --json`), with `env` changed for this run."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("MEETGRAPH_")}
        return await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "meetgraph.cli", *args],
            env={**inherited, **self.env, **(env or {})},
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=WAIT_TIMEOUT,
        )

    # -- the database, as the test sees it ----------------------------------------------------------------

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = make_engine(self.database_url)
        return self._engine

    async def rows(self, statement: Any) -> list[Any]:
        async with make_sessionmaker(self.engine)() as session:
            return list((await session.exec(statement)).all())

    async def jobs(self, kind: str | None = None, *states: JobState) -> list[Job]:
        statement = select(Job)
        if kind is not None:
            statement = statement.where(Job.kind == kind)
        if states:
            statement = statement.where(col(Job.state).in_(states))
        return await self.rows(statement)

    async def settled(self, kind: str) -> bool:
        """Every job of `kind` is DONE or FAILED."""
        return not await self.jobs(kind, JobState.PENDING, JobState.RUNNING)

    def stop_all(self) -> None:
        for process in self.all:
            if process.running:
                process.kill()

    async def close(self) -> None:
        self.stop_all()
        if self._engine is not None:
            await self._engine.dispose()


@asynccontextmanager
async def database_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database the processes migrate: a SQLite file, or a PostgreSQL database of its own."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'processes.db'}"
        return
    server = postgres_url()
    assert server is not None
    name = f"meetgraph_proc_{uuid.uuid4().hex[:12]}"
    admin = make_engine(asyncpg_url(server), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        base, _, _ = asyncpg_url(server).rpartition("/")
        yield f"{base}/{name}"
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
