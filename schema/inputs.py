"""GraphQL input types."""

from __future__ import annotations

from datetime import datetime

import strawberry


@strawberry.input
class TaskInput:
    title: str
    due: datetime
