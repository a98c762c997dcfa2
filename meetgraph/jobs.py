"""Durable jobs: every side effect of a state change is a row written in the change's own transaction, run
afterwards by workers with bounded retries and backoff, and kept through crashes and restarts.

- `enqueue(session, ...)` adds a job to the caller's transaction: it exists exactly when the change does.
- A worker *claims* due jobs with one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)`: on
  PostgreSQL concurrent workers skip each other's rows, on SQLite the claim runs under the write lock
  (`BEGIN IMMEDIATE`), so on both no job is claimed twice. A claim is a lease (`locked_until`), extended
  while the job runs; a worker that dies leaves its jobs to be claimed again when the lease runs out.
- Jobs run at least once, so every handler is idempotent (calendar writes carry the meeting's key, mails
  are marked sent in the transaction that follows the server's acceptance, publishing is harmless twice).
- A handler raises `Retry` (or any exception) to be tried again after a backoff, `Permanent` to fail at
  once; after `max_attempts` the job is FAILED, its `on_failed` runs in the same transaction, and it stays
  listed for operators (`meetgraph jobs`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import traceback
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, func, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.engine import begin_write
from db.models import Job, JobState

if TYPE_CHECKING:
    from meetgraph.services import Services
    from meetgraph.settings import Settings

log = logging.getLogger("meetgraph.jobs")

Payload = dict[str, Any]
Finish = Callable[[AsyncSession], Awaitable[None]]
"""What a handler stores of its result (e.g. the event id): run in the transaction that marks the job DONE."""
Handler = Callable[["Services", Payload], Awaitable[Finish | None]]
FailedHook = Callable[[AsyncSession, "Services", Payload, str], Awaitable[None]]

MAX_ERROR = 2000
PRUNE_EVERY_SECONDS = 3600.0


class Retry(Exception):
    """A transient failure: try again after `delay` seconds (the backoff when None)."""

    def __init__(self, message: str, delay: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.delay = delay


class Permanent(Exception):
    """A failure that no retry can mend: the job is FAILED at once."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class JobKind:
    name: str
    run: Handler
    on_failed: FailedHook | None = None
    """Runs in the transaction that marks the job FAILED (e.g. mark the meeting and mail the owner)."""
    max_backoff: float | None = None
    """Caps the retry delay below the queue's (e.g. publishing, which should resume within seconds)."""


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: Payload,
    *,
    now: datetime,
    key: str | None = None,
    max_attempts: int = 5,
    delay: timedelta = timedelta(0),
) -> uuid.UUID | None:
    """Add a job to the session's transaction; with a `key` already used, nothing (returns None)."""
    job_id = uuid.uuid4()
    values: dict[str, Any] = {
        "id": job_id,
        "kind": kind,
        "key": key,
        "payload": payload,
        "state": JobState.PENDING,
        "attempts": 0,
        "max_attempts": max_attempts,
        "run_at": now + delay,
        "created_at": now,
    }
    if key is None:
        session.add(Job(**values))
        await session.flush()
        return job_id
    connection = await session.connection()
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = insert(Job).values(**values).on_conflict_do_nothing(index_elements=["key"]).returning(col(Job.id))
    created = (await session.execute(statement)).scalar_one_or_none()
    return job_id if created is not None else None


def _due(now: datetime) -> Any:
    return or_(
        and_(col(Job.state) == JobState.PENDING, col(Job.run_at) <= now),
        and_(col(Job.state) == JobState.RUNNING, col(Job.locked_until) < now),
    )


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class JobQueue:
    """The process's view of the jobs table: claim, run, finish; and the worker loop that does it."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.kinds: dict[str, JobKind] = {}
        self.name = worker_name()
        self._wakeup = asyncio.Event()
        self._running: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._rng = random.Random()

    # -- set-up ---------------------------------------------------------------------------------------

    def register(self, kinds: Mapping[str, JobKind]) -> None:
        self.kinds.update(kinds)

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.job_lease_seconds)

    def backoff(self, attempts: int, cap: float | None = None) -> float:
        """Full-jitter exponential backoff after the given number of attempts."""
        limit = min(self.settings.job_backoff_max_seconds, cap or self.settings.job_backoff_max_seconds)
        delay = min(limit, self.settings.job_backoff_seconds * 2 ** max(attempts - 1, 0))
        return self._rng.uniform(delay / 2, delay)

    def kick(self) -> None:
        """Something was enqueued: the local worker looks now instead of at its next poll."""
        self._wakeup.set()

    # -- claiming and finishing -------------------------------------------------------------------------

    async def claim(self, *, limit: int, job_ids: Sequence[uuid.UUID] = (), any_time: bool = False) -> list[Job]:
        """Take up to `limit` due jobs (or just `job_ids`, if still pending) under a lease for this worker."""
        now = self.services.clock()
        where: Any = _due(now)
        if any_time:
            where = or_(where, col(Job.state) == JobState.PENDING)
        if job_ids:
            where = and_(col(Job.id).in_(list(job_ids)), col(Job.state) == JobState.PENDING)
        where = and_(where, col(Job.kind).in_(list(self.kinds)))
        sessionmaker = self.services.sessionmaker
        if not job_ids:  # polling: a cheap read first, so SQLite's write lock is taken only when there is work
            async with sessionmaker() as session:
                if (await session.exec(select(Job.id).where(where).limit(1))).first() is None:
                    return []
        async with sessionmaker() as session:
            await begin_write(session)
            pick = select(Job.id).where(where).order_by(col(Job.run_at)).limit(limit).with_for_update(skip_locked=True)
            statement = (
                update(Job)
                .where(col(Job.id).in_(pick.scalar_subquery()))
                .values(
                    state=JobState.RUNNING,
                    locked_by=self.name,
                    locked_until=now + self.lease,
                    attempts=col(Job.attempts) + 1,
                )
                .returning(Job)
                .execution_options(synchronize_session=False)
            )
            claimed = list((await session.execute(statement)).scalars().all())
            await session.commit()
        return claimed

    async def _settle(self, job: Job, *, then: Finish | None = None, if_ours: bool = False, **values: Any) -> None:
        """End this worker's claim on the job with `values`, and run `then` in the same transaction: always
        (a DONE job's result: the effect happened, what it made must be known even if the lease was lost), or
        with `if_ours` only while the claim was still this worker's (a FAILED job's hook, run once)."""
        async with self.services.sessionmaker() as session:
            await begin_write(session)
            result = await session.execute(
                update(Job)
                .where(col(Job.id) == job.id, col(Job.locked_by) == self.name)
                .values(locked_by=None, locked_until=None, **values)
            )
            if then is not None and (result.rowcount or not if_ours):  # type: ignore[attr-defined]
                await then(session)
            await session.commit()

    async def _fail(self, job: Job, error: str, *, permanent: bool, delay: float | None) -> None:
        kind = self.kinds[job.kind]
        now = self.services.clock()
        if not permanent and job.attempts < job.max_attempts:
            wait = delay if delay is not None else self.backoff(job.attempts, kind.max_backoff)
            log.warning("job %s %s failed (attempt %s/%s), retried in %.1fs: %s", job.kind, job.id,
                        job.attempts, job.max_attempts, wait, error)  # fmt: skip
            await self._settle(
                job, state=JobState.PENDING, run_at=now + timedelta(seconds=wait), last_error=error[:MAX_ERROR]
            )
            return
        log.error("job %s %s failed for good after %s attempt(s): %s", job.kind, job.id, job.attempts, error)
        on_failed = kind.on_failed

        async def hook(session: AsyncSession) -> None:
            if on_failed is not None:
                await on_failed(session, self.services, job.payload, error)

        await self._settle(
            job, then=hook, if_ours=True, state=JobState.FAILED, last_error=error[:MAX_ERROR], finished_at=now
        )
        self.kick()

    async def release(self, job: Job) -> None:
        """Give an unfinished job back (shutdown): it runs again, without counting this try."""
        await self._settle(job, state=JobState.PENDING, attempts=max(job.attempts - 1, 0))

    async def execute(self, job: Job) -> None:
        """Run one claimed job to DONE, a retry, or FAILED; never raises (but for cancellation)."""
        kind = self.kinds[job.kind]
        deadline = asyncio.timeout(self.settings.job_timeout_seconds)
        try:
            async with deadline:
                finish = await kind.run(self.services, job.payload)
        except asyncio.CancelledError:
            await asyncio.shield(self.release(job))
            raise
        except Permanent as exc:
            await self._fail(job, exc.message, permanent=True, delay=None)
        except Retry as exc:
            await self._fail(job, exc.message, permanent=False, delay=exc.delay)
        except Exception as exc:
            if isinstance(exc, TimeoutError) and deadline.expired():
                error = f"timed out after {self.settings.job_timeout_seconds}s"
            else:  # the handler's own timeouts (SMTP, HTTP) are TimeoutErrors too: keep what they say
                log.exception("job %s %s raised", job.kind, job.id)
                error = "".join(traceback.format_exception_only(exc)).strip()
            await self._fail(job, error, permanent=False, delay=None)
        else:
            await self._settle(
                job, then=finish, state=JobState.DONE, finished_at=self.services.clock(), last_error=None
            )

    async def run_now(self, *job_ids: uuid.UUID | None) -> None:
        """Run these just-committed jobs here and now, if no worker took them yet (answers that show the
        effect, e.g. a booking already in the calendar), and wake the local worker for the rest of what the
        change enqueued. Failures are the job's: retried later, never raised.

        The worker is woken only once these are claimed: woken first, it raced the claim and often won, and
        the answer showed a write still pending that this request would have done at once."""
        wanted = [job_id for job_id in job_ids if job_id is not None]
        claimed = await self.claim(limit=len(wanted), job_ids=wanted) if wanted and not self._stopping else []
        self.kick()
        for job in claimed:
            await self._track(job)

    async def _track(self, job: Job) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._running[job.id] = task
        try:
            await self.execute(job)
        finally:
            self._running.pop(job.id, None)

    # -- the worker loop ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Run the worker loop in this process (`serve` by default, `meetgraph worker`)."""
        if self._loop_task is None:
            self._stopping = False
            self._loop_task = asyncio.create_task(self._loop(), name="meetgraph-jobs")
            self._heartbeat_task = asyncio.create_task(self._heartbeat(), name="meetgraph-jobs-heartbeat")

    async def _loop(self) -> None:
        concurrency = max(1, self.settings.job_concurrency)
        workers: set[asyncio.Task[None]] = set()
        while not self._stopping:
            self._wakeup.clear()
            free = concurrency - len(workers)
            claimed: list[Job] = []
            if free > 0:
                try:
                    claimed = await self.claim(limit=free)
                except Exception:
                    log.exception("claiming jobs failed; trying again")
            for job in claimed:
                task = asyncio.create_task(self._track(job), name=f"job-{job.kind}-{job.id}")
                workers.add(task)
                task.add_done_callback(workers.discard)
                task.add_done_callback(lambda _: self._wakeup.set())
            if claimed and len(workers) < concurrency:
                continue  # there may be more due right now
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=self.settings.job_poll_seconds)
            except TimeoutError:
                pass

    async def prune(self) -> int:
        """Forget DONE jobs older than the retention (FAILED ones stay until an operator deals with them)."""
        before = self.services.clock() - timedelta(days=self.settings.job_retention_days)
        async with self.services.sessionmaker() as session:
            await begin_write(session)
            result = await session.execute(
                delete(Job).where(col(Job.state) == JobState.DONE, col(Job.finished_at) < before)
            )
            await session.commit()
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def _heartbeat(self) -> None:
        """Extend the lease of every job this process runs, so no other worker takes them while alive;
        now and then, prune old DONE jobs."""
        interval = max(self.settings.job_lease_seconds / 3, 0.05)
        loop = asyncio.get_running_loop()
        next_prune = loop.time()
        while True:
            await asyncio.sleep(interval)
            if loop.time() >= next_prune:
                next_prune = loop.time() + PRUNE_EVERY_SECONDS
                try:
                    await self.prune()
                except Exception:
                    log.exception("pruning old jobs failed")
            if not self._running:
                continue
            try:
                async with self.services.sessionmaker() as session:
                    await begin_write(session)
                    await session.execute(
                        update(Job)
                        .where(col(Job.id).in_(list(self._running)), col(Job.locked_by) == self.name)
                        .values(locked_until=self.services.clock() + self.lease)
                    )
                    await session.commit()
            except Exception:
                log.exception("extending job leases failed")

    async def stop(self, grace: float | None = None) -> None:
        """Stop claiming; let running jobs finish within `grace` seconds, then give the rest back."""
        self._stopping = True
        self._wakeup.set()
        if self._loop_task is not None:
            await self._loop_task
            self._loop_task = None
        running = list(self._running.values())
        if running:
            wait = self.settings.shutdown_grace_seconds if grace is None else grace
            _, unfinished = await asyncio.wait(running, timeout=wait)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            await asyncio.gather(self._heartbeat_task, return_exceptions=True)
            self._heartbeat_task = None

    async def drain(self, max_rounds: int = 1000) -> None:
        """Run every pending job to DONE or FAILED, not waiting for backoffs (tests, `meetgraph jobs run`).

        Between rounds the retry policy's `sleep` is awaited, so a test can hold retries back.
        """
        for _ in range(max_rounds):
            jobs = await self.claim(limit=20)
            if not jobs:
                if not await self._pending():
                    return
                await self.services.retry.sleep(0)
                jobs = await self.claim(limit=20, any_time=True)
                if not jobs:
                    return
            for job in jobs:
                await self._track(job)
        raise RuntimeError("jobs kept coming back after 1000 rounds")

    async def _pending(self) -> bool:
        async with self.services.sessionmaker() as session:
            found = await session.exec(
                select(Job.id).where(col(Job.state) == JobState.PENDING, col(Job.kind).in_(list(self.kinds))).limit(1)
            )
            return found.first() is not None


async def counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.exec(select(Job.state, func.count()).group_by(Job.state))  # type: ignore[call-overload]
    return {JobState(state).value: int(n) for state, n in rows.all()}


async def listing(session: AsyncSession, states: Sequence[JobState], limit: int = 100) -> list[Job]:
    rows = await session.exec(
        select(Job).where(col(Job.state).in_(list(states))).order_by(col(Job.created_at).desc()).limit(limit)
    )
    return list(rows.all())


def describe(job: Job) -> dict[str, Any]:
    return {
        "id": str(job.id),
        "kind": job.kind,
        "state": job.state.value,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "run_at": job.run_at.isoformat(),
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "last_error": job.last_error,
        "payload": job.payload,
    }


async def retry_failed(session: AsyncSession, job_ids: Sequence[str], now: datetime) -> int:
    """An operator's second chance for FAILED jobs (e.g. after fixing SMTP credentials): a fresh budget."""
    where: Any = col(Job.state) == JobState.FAILED
    if list(job_ids) != ["all-failed"]:
        where = and_(where, col(Job.id).in_([uuid.UUID(job_id) for job_id in job_ids]))
    result = await session.execute(
        update(Job).where(where).values(state=JobState.PENDING, attempts=0, run_at=now, finished_at=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
