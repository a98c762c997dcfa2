"""Seat checks: which paid features a user's seat includes."""

from __future__ import annotations

from db.models import Hub, SeatTier, User

SALES_OR_SERVICE = (Hub.SALES, Hub.SERVICE)


def has_task_sync(user: User) -> bool:
    """Task sync: a paid Sales Hub or Service Hub seat, Professional or Enterprise."""
    return (
        user.paid_seat
        and user.hub in SALES_OR_SERVICE
        and user.tier in (SeatTier.PROFESSIONAL, SeatTier.ENTERPRISE)
    )


def has_url_prefix(user: User) -> bool:
    """Meeting URL prefix: a paid Sales Hub or Service Hub seat, Starter or above."""
    return user.paid_seat and user.hub in SALES_OR_SERVICE and user.tier is not SeatTier.FREE
