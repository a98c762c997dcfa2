"""Jobs as a worker sees them: run what is due by the injected clock, read the jobs table."""

from __future__ import annotations

from db.models import Job, JobState
from meetgraph import jobs
from meetgraph.services import Services


async def run_due(services: Services) -> list[str]:
    """One worker pass: claim and run the jobs due now by the injected clock (unlike `drain`, a job whose
    retry is not due yet waits). Returns the kinds of the jobs that ran."""
    claimed = await services.jobs.claim(limit=100)
    for job in claimed:
        await services.jobs.execute(job)
    return [job.kind for job in claimed]


async def jobs_of_kind(services: Services, kind: str) -> list[Job]:
    """Every job of this kind, oldest first, through the operators' listing."""
    async with services.sessionmaker() as session:
        listed = await jobs.listing(session, list(JobState), limit=1000)
    return sorted((job for job in listed if job.kind == kind), key=lambda job: job.created_at)
