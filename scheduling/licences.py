"""Seats and the paid features they include (SPEC "Task sync", "Meeting URL prefix")."""

from __future__ import annotations

import enum
from typing import Protocol

from scheduling.errors import LicenseRequired


class Hub(str, enum.Enum):
    NONE = "NONE"
    SALES = "SALES"
    SERVICE = "SERVICE"


class SeatTier(str, enum.Enum):
    FREE = "FREE"
    STARTER = "STARTER"
    PROFESSIONAL = "PROFESSIONAL"
    ENTERPRISE = "ENTERPRISE"


class Seat(Protocol):
    """A user's seat: hub (none / Sales / Service), tier, paid or not."""

    @property
    def hub(self) -> Hub: ...
    @property
    def tier(self) -> SeatTier: ...
    @property
    def paid_seat(self) -> bool: ...


SALES_OR_SERVICE = (Hub.SALES, Hub.SERVICE)
TASK_SYNC_MESSAGE = "Task sync needs a paid Sales Hub or Service Hub seat, Professional or Enterprise."
URL_PREFIX_MESSAGE = "A meeting URL prefix needs a paid Sales Hub or Service Hub seat, Starter or above."


def has_task_sync(seat: Seat) -> bool:
    """Task sync: a paid Sales Hub or Service Hub seat, Professional or Enterprise."""
    return seat.paid_seat and seat.hub in SALES_OR_SERVICE and seat.tier in (SeatTier.PROFESSIONAL, SeatTier.ENTERPRISE)


def has_url_prefix(seat: Seat) -> bool:
    """Meeting URL prefix: a paid Sales Hub or Service Hub seat, Starter or above."""
    return seat.paid_seat and seat.hub in SALES_OR_SERVICE and seat.tier is not SeatTier.FREE


def require_task_sync(seat: Seat) -> None:
    if not has_task_sync(seat):
        raise LicenseRequired(TASK_SYNC_MESSAGE)


def require_url_prefix(seat: Seat) -> None:
    if not has_url_prefix(seat):
        raise LicenseRequired(URL_PREFIX_MESSAGE)
