"""GraphQL object types: declarations only; every computed field delegates to resolvers/."""

from __future__ import annotations

from datetime import datetime

import strawberry

from db import models


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
