"""Subscription root."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from resolvers import attempts
from schema.base import CtxInfo
from schema.types import BookingAttempt


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Every attempt to book any of the caller's scheduling pages, as it happens."
    )
    async def booking_attempts(self, info: CtxInfo) -> AsyncGenerator[BookingAttempt, None]:
        user = info.context.require_user()
        async for attempt in attempts.stream(info.context.services, user.id):
            yield BookingAttempt.from_model(attempt)
