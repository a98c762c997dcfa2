"""GraphQL input types."""

from __future__ import annotations

from datetime import datetime

import strawberry


@strawberry.input
class BookMeetingInput:
    slug: str
    domain: str | None = strawberry.field(
        default=None, description="The host the page was opened on; the app's own host when omitted."
    )
    start: datetime
    contact_email: str
    contact_name: str


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
