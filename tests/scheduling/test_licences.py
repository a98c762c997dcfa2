"""Seats and the paid features they include (scheduling.licences): every hub x tier x paid combination."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from scheduling.errors import LicenseRequired
from scheduling.licences import (
    Hub,
    SeatTier,
    has_task_sync,
    has_url_prefix,
    require_task_sync,
    require_url_prefix,
)


@dataclass(frozen=True)
class FakeSeat:
    hub: Hub
    tier: SeatTier
    paid_seat: bool


ALL_SEATS = [FakeSeat(hub, tier, paid) for hub, tier, paid in itertools.product(Hub, SeatTier, (True, False))]

TASK_SYNC_SEATS = {
    (Hub.SALES, SeatTier.PROFESSIONAL),
    (Hub.SALES, SeatTier.ENTERPRISE),
    (Hub.SERVICE, SeatTier.PROFESSIONAL),
    (Hub.SERVICE, SeatTier.ENTERPRISE),
}
"""Paid seats with task sync (SPEC: paid Sales Hub or Service Hub seat, Professional or Enterprise)."""

URL_PREFIX_SEATS = TASK_SYNC_SEATS | {(Hub.SALES, SeatTier.STARTER), (Hub.SERVICE, SeatTier.STARTER)}
"""Paid seats with a meeting URL prefix (SPEC: paid Sales/Service Hub seat, Starter or above)."""


def seat_id(seat: FakeSeat) -> str:
    return f"{seat.hub.value}-{seat.tier.value}-{'paid' if seat.paid_seat else 'unpaid'}"


def test_the_table_covers_every_combination() -> None:
    assert len(ALL_SEATS) == len(Hub) * len(SeatTier) * 2 == 24


@pytest.mark.parametrize("seat", ALL_SEATS, ids=seat_id)
def test_task_sync_only_for_paid_sales_or_service_professional_or_enterprise(seat: FakeSeat) -> None:
    expected = seat.paid_seat and (seat.hub, seat.tier) in TASK_SYNC_SEATS

    assert has_task_sync(seat) is expected


@pytest.mark.parametrize("seat", ALL_SEATS, ids=seat_id)
def test_url_prefix_only_for_paid_sales_or_service_starter_and_above(seat: FakeSeat) -> None:
    expected = seat.paid_seat and (seat.hub, seat.tier) in URL_PREFIX_SEATS

    assert has_url_prefix(seat) is expected


@pytest.mark.parametrize("seat", ALL_SEATS, ids=seat_id)
def test_require_task_sync_raises_exactly_when_the_seat_lacks_it(seat: FakeSeat) -> None:
    if has_task_sync(seat):
        require_task_sync(seat)
    else:
        with pytest.raises(LicenseRequired):
            require_task_sync(seat)


@pytest.mark.parametrize("seat", ALL_SEATS, ids=seat_id)
def test_require_url_prefix_raises_exactly_when_the_seat_lacks_it(seat: FakeSeat) -> None:
    if has_url_prefix(seat):
        require_url_prefix(seat)
    else:
        with pytest.raises(LicenseRequired):
            require_url_prefix(seat)


@pytest.mark.parametrize("seat", ALL_SEATS, ids=seat_id)
def test_every_seat_with_task_sync_also_has_a_url_prefix(seat: FakeSeat) -> None:
    assert not has_task_sync(seat) or has_url_prefix(seat)
