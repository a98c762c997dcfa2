"""Booking latency before and after durable jobs, and jobs run per second by one worker.

1. 20 concurrent visitors book distinct slots of one page (Google, through the bench emulators in their own
   process, no added latency) on a real uvicorn server in its own process, with its in-process worker;
   p50 and p99 of the bookMeeting round trip. "after" is this tree; "before" is BENCH_BEFORE_REF (default
   b197bc9, the tree before durable jobs) checked out into a temporary git worktree and served by the
   same venv from there: the same driver, the same emulators, only the server's code differs.
2. N no-op jobs enqueued at once, then one JobQueue's worker loop (default concurrency) runs them all.

Each on SQLite and, when MEETGRAPH_BENCH_POSTGRES_URL or MEETGRAPH_TEST_POSTGRES_URL is set, PostgreSQL
(a scratch database is created beside the one named, and dropped). `python -m bench.booking`.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from packaging.requirements import Requirement

from bench.__main__ import ADMIN, emulator_process, gql
from bench.emulators import BOOKING_ACCOUNT
from db.migrate import upgrade
from emulators.runner import free_port
from meetgraph import jobs
from meetgraph.services import Services
from meetgraph.settings import Settings

VISITORS = 20
BOOKINGS_PER_VISITOR = 10
JOBS = 2000
DAYS_PER_RUN = 5
"""52 slots a day: enough for one run's bookings."""
BEFORE_REF = os.environ.get("BENCH_BEFORE_REF", "b197bc9")
POSTGRES_ENVS = ("MEETGRAPH_BENCH_POSTGRES_URL", "MEETGRAPH_TEST_POSTGRES_URL")
TREE = Path(__file__).resolve().parent.parent
NOOP = "bench.noop"

BOOK = """mutation($i: BookMeetingInput!) { bookMeeting(input: $i) { __typename ... on Error { message } } }"""
SLOTS = """query($slug: String!, $s: DateTime!, $e: DateTime!) {
  schedulingPage(slug: $slug) { availableSlots(start: $s, end: $e) { start } } }"""


def postgres_url() -> str | None:
    return next((os.environ[name] for name in POSTGRES_ENVS if os.environ.get(name)), None)


def _with_database(url: str, name: str, scheme: str = "postgresql") -> str:
    parts = urlsplit(url)
    return urlunsplit((scheme, parts.netloc, f"/{name}", "", ""))


@asynccontextmanager
async def scratch_database(kind: str, workdir: Path, label: str) -> AsyncIterator[str]:
    """A new, empty database; yields its SQLAlchemy URL."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / label}.db"
        return
    url = postgres_url()
    assert url
    name = f"meetgraph_bench_{label}_{os.getpid()}"
    admin = await asyncpg.connect(_with_database(url, urlsplit(url).path.lstrip("/") or "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield _with_database(url, name, "postgresql+asyncpg")
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


BEFORE_DEPENDENCIES = ".bench-before-dependencies"
"""In the before tree: the packages its pyproject.toml asks for that this venv no longer has (broadcaster,
which durable jobs replaced), installed there with pip --target and put on the before server's PYTHONPATH."""


@contextmanager
def before_tree() -> Iterator[Path]:
    """BEFORE_REF in a temporary git worktree (removed afterwards; nothing is committed from it)."""
    path = Path(tempfile.mkdtemp(prefix="bench-before-"))
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(path), BEFORE_REF], cwd=TREE, check=True)
    try:
        _install_missing_dependencies(path)
        yield path
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=TREE, check=True)


def _install_missing_dependencies(tree: Path) -> None:
    missing = []
    for spec in tomllib.loads((tree / "pyproject.toml").read_text())["project"]["dependencies"]:
        requirement = Requirement(spec)
        try:
            importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(f"{requirement.name}{requirement.specifier}")  # its own dependencies: ours suffice
    if missing:
        target = tree / BEFORE_DEPENDENCIES
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), *missing],
            check=True,
        )


def server_env(database_url: str, public_url: str, emulators: str) -> dict[str, str]:
    settings = Settings(_env_file=None).with_emulators(emulators)  # type: ignore[call-arg]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEETGRAPH_")}
    env.update(
        {
            "MEETGRAPH_DATABASE_URL": database_url,
            "MEETGRAPH_ADMIN_TOKEN": ADMIN,
            "MEETGRAPH_SECRET_KEY": "bench-secret",
            "MEETGRAPH_PUBLIC_URL": public_url,
            "MEETGRAPH_BROADCAST_URL": "memory://",
        }
    )
    for name in ("google_auth_url", "google_token_url", "google_userinfo_url", "google_api_url"):
        env[f"MEETGRAPH_{name.upper()}"] = str(getattr(settings, name))
    return env


@contextmanager
def server_process(tree: Path, database_url: str, emulators: str) -> Iterator[str]:
    """`uvicorn meetgraph.app:create_app` in its own process, importing the meetgraph of `tree`."""
    found = subprocess.run(
        [sys.executable, "-c", "import meetgraph; print(meetgraph.__file__)"],
        cwd=tree, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    if not found.startswith(str(tree)):
        raise RuntimeError(f"the server in {tree} would import {found}")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "uvicorn", "--factory", "meetgraph.app:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    env = server_env(database_url, base, emulators)
    if (tree / BEFORE_DEPENDENCIES).is_dir():
        env["PYTHONPATH"] = str(tree / BEFORE_DEPENDENCIES)
    with served(subprocess.Popen(command, cwd=tree, env=env), base):
        yield base


@contextmanager
def served(child: subprocess.Popen[bytes], base: str) -> Iterator[None]:
    """Wait until the server child answers `/healthz` (60 s at most), then stop it when the block ends."""
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the bench server did not start")
            time.sleep(0.2)  # waiting for a child process to listen; not part of any measurement
        yield
    finally:
        child.terminate()
        child.wait(timeout=60)


async def owner_page(http: httpx.AsyncClient) -> str:
    """A user with the empty Google calendar connected and a page open every day 07-20; returns its slug."""
    made = await gql(
        http,
        "mutation($i: CreateUserInput!) { createUser(input: $i) { ... on CreateUserSuccess { token } } }",
        {"i": {"email": "owner@bench.test", "name": "Owner"}},
        ADMIN,
    )
    token = str(made["createUser"]["token"])  # type: ignore[index]
    data = await gql(
        http,
        "mutation { startCalendarConnection(provider: GOOGLE) {"
        " ... on StartCalendarConnectionSuccess { authorizationUrl } } }",
        {},
        token,
    )
    url = data["startCalendarConnection"]["authorizationUrl"]  # type: ignore[index]
    if "/oauth/start/" in url:
        # since the hardening issue the URL is ours: `http`, the user's browser, opens it (the flow's cookie
        # stays in its jar for the callback) and is sent on to the provider; before, it was the provider's
        url = (await http.get(urlsplit(url).path)).headers["location"]
    async with httpx.AsyncClient() as browser:
        redirect = (await browser.get(f"{url}&login_hint={BOOKING_ACCOUNT}")).headers["location"]
    parts = urlsplit(redirect)
    await http.get(f"{parts.path}?{parts.query}")
    saved = await gql(
        http,
        "mutation($i: CalendarSettingsInput!) { saveCalendarSettings(input: $i) { __typename } }",
        {"i": {"schedulingPagesEnabled": True}},
        token,
    )
    assert saved["saveCalendarSettings"] == {"__typename": "CalendarSettingsSuccess"}, saved
    hours = [{"weekday": d, "start": "07:00", "end": "20:00"} for d in range(1, 8)]
    page = await gql(
        http,
        "mutation($i: SchedulingPageInput!) { createSchedulingPage(input: $i) {"
        " ... on SchedulingPageSuccess { page { slug } } } }",
        {"i": {"name": "Bench booking", "timezone": "Europe/Berlin", "weeklyHours": hours, "durationMinutes": 15}},
        token,
    )
    return str(page["createSchedulingPage"]["page"]["slug"])  # type: ignore[index]


async def book(http: httpx.AsyncClient, slug: str, start: str, visitor: int) -> tuple[float, str]:
    variables = {"i": {"slug": slug, "start": start, "contactEmail": f"v{visitor}@example.org", "contactName": "V"}}
    started = time.perf_counter()
    response = await http.post("/graphql", json={"query": BOOK, "variables": variables})
    elapsed = time.perf_counter() - started
    body: dict[str, Any] = response.json()
    return elapsed, str(((body.get("data") or {}).get("bookMeeting") or {}).get("__typename", body.get("errors")))


async def booking_latencies(base: str, first_day: int) -> tuple[list[float], float]:
    """The visitors' round trips; slots from `first_day` days ahead on (the emulator's calendar keeps the
    events of earlier runs, so each run books its own days)."""
    limits = httpx.Limits(max_connections=VISITORS + 2)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as http:
        slug = await owner_page(http)
        start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=first_day)
        window = {"slug": slug, "s": start.isoformat(), "e": (start + timedelta(days=DAYS_PER_RUN)).isoformat()}
        offered = (await http.post("/graphql", json={"query": SLOTS, "variables": window})).json()["data"]
        starts = [s["start"] for s in offered["schedulingPage"]["availableSlots"]]
        wanted = VISITORS * BOOKINGS_PER_VISITOR + 1
        if len(starts) < wanted:
            raise RuntimeError(f"{len(starts)} free slots, {wanted} wanted")
        _, outcome = await book(http, slug, starts.pop(), -1)  # warm: token, provider catalogue, caches
        assert outcome == "BookMeetingSuccess", outcome
        queue = iter(starts)
        latencies: list[float] = []
        outcomes: list[str] = []

        async def visitor(number: int) -> None:
            for _ in range(BOOKINGS_PER_VISITOR):
                elapsed, result = await book(http, slug, next(queue), number)
                latencies.append(elapsed)
                outcomes.append(result)

        started = time.perf_counter()
        await asyncio.gather(*(visitor(n) for n in range(VISITORS)))
        elapsed = time.perf_counter() - started
        failed = [o for o in outcomes if o != "BookMeetingSuccess"]
        if failed:
            raise RuntimeError(f"{len(failed)} bookings failed, e.g. {failed[0]}")
        return latencies, elapsed


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def jobs_per_second(database_url: str) -> float:
    """JOBS no-op jobs enqueued, then one worker loop runs them: jobs per second from start to the last DONE."""
    settings = Settings(database_url=database_url, secret_key="bench-secret", _env_file=None)  # type: ignore[call-arg]
    services = Services.create(settings)
    await upgrade(services.engine)
    await services.start()
    done = asyncio.Event()
    ran = 0

    async def noop(_services: Services, _payload: jobs.Payload) -> None:
        nonlocal ran
        ran += 1
        if ran == JOBS:
            done.set()

    services.jobs.register({NOOP: jobs.JobKind(NOOP, noop)})
    try:
        async with services.sessionmaker() as session:
            for _ in range(JOBS):
                await jobs.enqueue(session, NOOP, {}, now=services.clock())
            await session.commit()
        started = time.perf_counter()
        services.jobs.start()
        await asyncio.wait_for(done.wait(), timeout=600)
        await services.jobs.stop()
        elapsed = time.perf_counter() - started
        async with services.sessionmaker() as session:
            counted = await jobs.counts(session)
        if counted != {"DONE": JOBS}:
            raise RuntimeError(f"jobs left: {counted}")
    finally:
        await services.stop()
    return JOBS / elapsed


async def measure(kind: str, run: int, before: Path, emulators: str, workdir: Path) -> dict[str, float]:
    row: dict[str, float] = {}
    for index, (label, tree) in enumerate((("before", before), ("after", TREE))):
        async with scratch_database(kind, workdir, f"{kind}_{label}") as url:
            with server_process(tree, url, emulators) as base:
                latencies, elapsed = await booking_latencies(base, first_day=1 + (2 * run + index) * DAYS_PER_RUN)
        row[f"{label}_per_s"] = len(latencies) / elapsed
        row[f"{label}_p50"] = percentile(latencies, 50)
        row[f"{label}_p99"] = percentile(latencies, 99)
    async with scratch_database(kind, workdir, f"{kind}_jobs") as url:
        row["jobs_per_s"] = await jobs_per_second(url)
    return row


async def main() -> int:
    kinds = ["sqlite"] + (["postgres"] if postgres_url() else [])
    print(
        f"bookings: {VISITORS} concurrent visitors x {BOOKINGS_PER_VISITOR} bookings of distinct slots, Google"
        f" emulator (own process, no added latency), uvicorn server in its own process with its worker;"
        f" before = {BEFORE_REF}, after = this tree"
    )
    print(f"jobs: {JOBS} no-op jobs enqueued, then run by one worker loop (concurrency {Settings().job_concurrency})")
    print(
        f"{'database':<11} {'p50 before':>10} {'p50 after':>10} {'ratio':>6} {'p99 before':>11} {'p99 after':>10}"
        f" {'ratio':>6} {'bookings/s before':>18} {'after':>6} {'jobs/s':>7}"
    )
    with emulator_process() as emulators, before_tree() as before, tempfile.TemporaryDirectory() as tmp:
        for run, kind in enumerate(kinds):
            r = await measure(kind, run, before, emulators, Path(tmp))
            print(
                f"{kind:<11} {r['before_p50'] * 1000:>8.0f}ms {r['after_p50'] * 1000:>8.0f}ms"
                f" {r['after_p50'] / r['before_p50']:>6.2f} {r['before_p99'] * 1000:>9.0f}ms"
                f" {r['after_p99'] * 1000:>8.0f}ms {r['after_p99'] / r['before_p99']:>6.2f}"
                f" {r['before_per_s']:>18.0f} {r['after_per_s']:>6.0f} {r['jobs_per_s']:>7.0f}"
            )
    if "postgres" not in kinds:
        print(f"PostgreSQL skipped: set {' or '.join(POSTGRES_ENVS)} (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    print("ratio = after / before (below 1.00: after is faster)")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
