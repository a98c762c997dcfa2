"""Subscription root."""

from __future__ import annotations

import strawberry

from schema.booking import BookingSubscription


@strawberry.type
class Subscription(BookingSubscription):
    pass
