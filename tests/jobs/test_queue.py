"""The job queue itself, on SQLite and PostgreSQL: claims are exclusive, leases end, retries are bounded."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import Job, JobState
from meetgraph import jobs
from meetgraph.jobs import JobKind, JobQueue
from meetgraph.services import Services
from tests.utils.clock import FakeClock


class Recorder:
    """Test job kinds: what ran, and how each run ends."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.failed: list[tuple[str, str]] = []
        self.outcome: Exception | None = None
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()

    async def run(self, services: Services, payload: dict[str, Any]) -> None:
        self.ran.append(payload["n"])
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.outcome is not None:
            raise self.outcome

    async def on_failed(self, session: AsyncSession, services: Services, payload: dict[str, Any], error: str) -> None:
        self.failed.append((payload["n"], error))

    def queue(self, services: Services) -> JobQueue:
        queue = JobQueue(services)
        queue.register({"test": JobKind("test", self.run, on_failed=self.on_failed)})
        return queue


async def enqueue(services: Services, count: int, **options: Any) -> list[uuid.UUID | None]:
    async with services.sessionmaker() as session:
        ids = [
            await jobs.enqueue(session, "test", {"n": str(n)}, now=services.clock(), **options) for n in range(count)
        ]
        await session.commit()
    return ids


async def states(services: Services) -> list[tuple[JobState, int]]:
    async with services.sessionmaker() as session:
        return [(job.state, job.attempts) for job in (await session.exec(select(Job))).all()]


async def test_concurrent_workers_never_claim_one_job_twice(services: Services) -> None:
    # given
    recorder = Recorder()
    await enqueue(services, 60)
    workers = [recorder.queue(services) for _ in range(3)]
    # when: three workers claim at once, in several rounds
    claims = await asyncio.gather(*(w.claim(limit=7) for w in workers for _ in range(4)))
    # then: no job in two claims
    claimed = [job.id for batch in claims for job in batch]
    assert len(claimed) == len(set(claimed)) and len(claimed) > 0
    assert {job.locked_by for batch in claims for job in batch} <= {w.name for w in workers}


async def test_a_dead_workers_job_is_claimed_again_when_its_lease_ends(services: Services, clock: FakeClock) -> None:
    # given: a worker claimed the job and died (no heartbeat)
    recorder = Recorder()
    await enqueue(services, 1)
    dead, alive = recorder.queue(services), recorder.queue(services)
    (job,) = await dead.claim(limit=1)
    # then: nobody else takes it while the lease runs
    assert await alive.claim(limit=1) == []
    # when the lease has run out
    clock.advance(seconds=services.settings.job_lease_seconds + 1)
    (again,) = await alive.claim(limit=1)
    # then: the same job, its second attempt
    assert again.id == job.id and again.attempts == 2 and again.locked_by == alive.name


async def test_failures_are_retried_with_backoff_then_failed_with_the_hook_once(
    services: Services, clock: FakeClock
) -> None:
    # given
    recorder = Recorder()
    recorder.outcome = RuntimeError("SMTP said no")
    await enqueue(services, 1, max_attempts=3)
    queue = recorder.queue(services)
    # when: the first try fails
    (job,) = await queue.claim(limit=1)
    await queue.execute(job)
    # then: pending, due later (not now)
    assert await states(services) == [(JobState.PENDING, 1)]
    assert await queue.claim(limit=1) == []
    # when: the remaining tries fail too
    await queue.drain()
    # then
    assert recorder.ran == ["0", "0", "0"]
    assert await states(services) == [(JobState.FAILED, 3)]
    ((n, error),) = recorder.failed
    assert n == "0" and "SMTP said no" in error
    async with services.sessionmaker() as session:
        (stored,) = (await session.exec(select(Job))).all()
    assert stored.last_error is not None and "SMTP said no" in stored.last_error


async def test_a_permanent_failure_is_not_retried(services: Services) -> None:
    recorder = Recorder()
    recorder.outcome = jobs.Permanent("550 no such user")
    await enqueue(services, 1)
    await recorder.queue(services).drain()
    assert recorder.ran == ["0"] and await states(services) == [(JobState.FAILED, 1)]
    assert recorder.failed == [("0", "550 no such user")]


async def test_a_retry_after_delay_is_honoured(services: Services, clock: FakeClock) -> None:
    recorder = Recorder()
    recorder.outcome = jobs.Retry("throttled", delay=120)
    await enqueue(services, 1)
    queue = recorder.queue(services)
    (job,) = await queue.claim(limit=1)
    await queue.execute(job)
    clock.advance(seconds=119)
    assert await queue.claim(limit=1) == []
    clock.advance(seconds=2)
    assert len(await queue.claim(limit=1)) == 1


async def test_a_key_makes_one_job(services: Services) -> None:
    first = await enqueue(services, 1, key="write-meeting:x")
    second = await enqueue(services, 1, key="write-meeting:x")
    assert first[0] is not None and second == [None]
    assert len(await states(services)) == 1


async def test_stopping_gives_unfinished_jobs_back_without_counting_the_try(services: Services) -> None:
    # given: the worker loop runs a job that does not end
    recorder = Recorder()
    recorder.gate = asyncio.Event()
    await enqueue(services, 1)
    queue = recorder.queue(services)
    queue.start()
    await asyncio.wait_for(recorder.started.wait(), 10)
    # when: shut down with no time to finish
    await queue.stop(grace=0)
    # then: pending again, attempts as before the try
    assert await states(services) == [(JobState.PENDING, 0)]


async def test_stopping_lets_a_running_job_finish_within_the_grace(services: Services) -> None:
    # given
    recorder = Recorder()
    recorder.gate = asyncio.Event()
    await enqueue(services, 1)
    queue = recorder.queue(services)
    queue.start()
    await asyncio.wait_for(recorder.started.wait(), 10)
    # when: shutdown begins, and the job finishes meanwhile
    stopping = asyncio.create_task(queue.stop(grace=10))
    recorder.gate.set()
    await asyncio.wait_for(stopping, 10)
    # then
    assert await states(services) == [(JobState.DONE, 1)]


async def test_the_worker_loop_runs_what_is_enqueued(services: Services) -> None:
    recorder = Recorder()
    queue = recorder.queue(services)
    queue.start()
    try:
        await enqueue(services, 1)
        queue.kick()
        await asyncio.wait_for(recorder.started.wait(), 10)
    finally:
        await queue.stop()
    assert recorder.ran == ["0"]


async def test_old_done_jobs_are_pruned_and_failed_ones_kept(services: Services, clock: FakeClock) -> None:
    # given: a job done, one failed, one pending
    recorder = Recorder()
    queue = recorder.queue(services)
    await enqueue(services, 1)
    await queue.drain()
    recorder.outcome = jobs.Permanent("refused")
    await enqueue(services, 1)
    await queue.drain()
    recorder.outcome = None
    clock.advance(days=services.settings.job_retention_days, seconds=1)
    await enqueue(services, 1)
    # when
    pruned = await queue.prune()
    # then
    assert pruned == 1
    assert sorted(state.value for state, _ in await states(services)) == ["FAILED", "PENDING"]
