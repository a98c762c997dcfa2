"""GraphQL object types: declarations only; every computed field delegates to resolvers/."""

from __future__ import annotations

from datetime import datetime

import strawberry

from db import models


@strawberry.type
class Meeting:
    id: strawberry.ID
    start: datetime
    end: datetime
    status: models.MeetingStatus
    contact_email: str
    contact_name: str
    title: str
    sync_state: models.SyncState = strawberry.field(
        description="NOT_SYNCED (nothing to write), PENDING (being written, retried), SYNCED, FAILED."
    )
    page_id: strawberry.ID | None

    @classmethod
    def from_model(cls, m: models.Meeting) -> Meeting:
        return cls(
            id=strawberry.ID(str(m.id)),
            start=m.start,
            end=m.end,
            status=m.status,
            contact_email=m.contact_email,
            contact_name=m.contact_name,
            title=m.title,
            sync_state=m.sync_state,
            page_id=strawberry.ID(str(m.page_id)) if m.page_id else None,
        )


@strawberry.type(description="A CRM task; synced into the tasks sub-calendar while task sync is on.")
class Task:
    id: strawberry.ID
    title: str
    due: datetime
    synced: bool

    @classmethod
    def from_model(cls, m: models.Task) -> Task:
        return cls(
            id=strawberry.ID(str(m.id)),
            title=m.title,
            due=m.due,
            synced=m.sync_state is models.SyncState.SYNCED,
        )
