"""GraphQL input types."""

from __future__ import annotations

from datetime import datetime

import strawberry


@strawberry.input
class CrmMeetingInput:
    contact_email: str
    title: str
    start: datetime
    end: datetime
    from_integration: bool | None = strawberry.field(
        default=False, description="Created by an integration: logged only, never synced to a calendar."
    )


@strawberry.input
class TaskInput:
    title: str
    due: datetime
