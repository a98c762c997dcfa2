"""CRM tasks; with task sync on they are also written into the tasks sub-calendar of the connected account."""

from __future__ import annotations

from datetime import UTC, datetime

from db.models import CalendarSettings, SyncState, Task
from meetgraph.context import Context
from meetgraph.providers import provider_for
from providers.base import EventDraft, ProviderError
from resolvers.settings import main_connection
from scheduling import meeting_rules, validation
from scheduling.errors import InvalidInput, ProviderFailure


async def create_task(ctx: Context, title: str, due: datetime) -> Task:
    user = ctx.require_user()
    title = validation.text(title, "title", max_length=300)
    if due.tzinfo is None:
        raise InvalidInput("due needs a UTC offset", field="due")
    due = due.astimezone(UTC)
    async with ctx.db() as session:
        settings = await session.get(CalendarSettings, user.id)
        connection = await main_connection(session, user.id)
    task = Task(user_id=user.id, title=title, due=due, created_at=ctx.now())
    calendar_id = meeting_rules.task_calendar(
        task_sync=settings is not None and settings.task_sync,
        task_calendar_id=connection.task_calendar_id if connection is not None else None,
    )
    if connection is not None and calendar_id is not None:
        end = due + meeting_rules.TASK_EVENT_LENGTH
        draft = EventDraft(summary=f"Task: {title}", start=due, end=end, description="CRM task")
        try:
            async with provider_for(connection, ctx.services) as provider:
                task.provider_event_id = await provider.create_event(calendar_id, draft)
        except ProviderError as exc:
            raise ProviderFailure(f"Writing the task to the calendar failed: {exc.message}") from exc
        task.sync_state = SyncState.SYNCED
    async with ctx.db() as session:
        session.add(task)
        await session.commit()
    return task
