"""CRM tasks; with task sync on they are also written (by a durable job) into the tasks sub-calendar of the
connected account."""

from __future__ import annotations

from datetime import datetime

from db.models import CalendarSettings, SyncState, Task
from meetgraph.context import Context
from resolvers import calendar_writes
from resolvers.settings import main_connection
from scheduling import meeting_rules, validation


async def create_task(ctx: Context, title: str, due: datetime) -> Task:
    user = ctx.require_user()
    title = validation.text(title, "title", max_length=300)
    due = validation.instant(due, "due")
    async with ctx.db() as session:
        settings = await session.get(CalendarSettings, user.id)
        connection = await main_connection(session, user.id)
        task = Task(user_id=user.id, title=title, due=due, created_at=ctx.now())
        syncs = meeting_rules.task_syncs(
            task_sync=settings is not None and settings.task_sync, connected=connection is not None
        )
        session.add(task)
        write_job = None
        if syncs:
            task.sync_state = SyncState.PENDING
            await session.flush()
            write_job = await calendar_writes.enqueue_task_write(session, ctx.services, task)
        await session.commit()
    await ctx.services.jobs.run_now(write_job)
    async with ctx.db() as session:
        return await session.get(Task, task.id, populate_existing=True) or task
