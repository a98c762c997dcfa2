"""SIGKILL between fetching a sync's batch and committing it, with real processes: after a restart the store is
complete, the cursor set, and no meeting doubled."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func
from sqlmodel import col, select

from db.models import Calendar, CalendarEvent, JobState, Meeting
from meetgraph import failpoints, sync
from tests.sync.engine import scripted_server
from tests.utils.connection import connect_calendar
from tests.utils.emulators import World
from tests.utils.graphql import GraphQLClient
from tests.utils.processes import Process, Processes
from tests.utils.user import create_user

REPO = Path(__file__).resolve().parents[3]
KILLED = -9
EVENTS = 300


@dataclass
class ScriptedProcess(Process):
    """A meetgraph process whose sync engine talks to the scripted provider."""

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "tests.sync.engine.scripted_server", *super().argv()[3:]]


def scripted(processes: Processes, command: str, name: str, script: Path, **env: str) -> ScriptedProcess:
    process = ScriptedProcess(
        command,
        {**processes.env, "PYTHONPATH": str(REPO), scripted_server.SCRIPT_ENV: str(script), **env},
        processes.workdir,
        name,
    )
    processes.all.append(process)
    return process


async def test_a_sync_killed_before_its_commit_is_applied_once_after_the_restart(
    processes: Processes, world: World, tmp_path: Path
) -> None:
    # given: a server that runs no jobs, a worker armed to die before the store commits
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    script = tmp_path / "events.json"
    scripted_server.write_script(script, [(f"e{i}", start + timedelta(minutes=30 * i)) for i in range(EVENTS)])
    server = scripted(processes, "serve", "serve", script, MEETGRAPH_RUN_WORKERS="false")
    await server.start()
    worker = scripted(processes, "worker", "worker", script)
    await worker.start(**{failpoints.ENV: failpoints.SYNC_BEFORE_COMMIT})
    # when: the owner connects; the worker takes the first sync and dies
    async with server.client() as http:
        gql = GraphQLClient(http)
        _, token = await create_user(gql, "crash@crm.test")
        await connect_calendar(gql, http, token)
    assert await worker.exited() == KILLED
    assert f"failpoint {failpoints.SYNC_BEFORE_COMMIT}: SIGKILL" in worker.output()
    assert await processes.rows(select(CalendarEvent.id)) == []
    # when: restarted, it takes the job again once the lease ends
    await worker.start(**{failpoints.ENV: None})

    async def synced() -> bool:
        done = await processes.jobs(sync.SYNC_CALENDAR, JobState.DONE)
        return bool(done) and await processes.settled(sync.SYNC_CALENDAR)

    await processes.wait_until(synced, "the first sync is done")
    # then
    (primary,) = await processes.rows(select(Calendar).where(col(Calendar.is_primary)))
    assert primary.sync_cursor is not None and primary.synced_at is not None
    stored = await processes.rows(select(CalendarEvent.provider_event_id))
    assert sorted(stored) == sorted(f"e{i}" for i in range(EVENTS))
    (meetings, distinct) = (
        await processes.rows(
            select(func.count(col(Meeting.id)), func.count(func.distinct(col(Meeting.provider_event_id))))
        )
    )[0]
    assert meetings == distinct
