"""What a connected calendar may do (scheduling.calendars): Exchange limitations and availability choices."""

from __future__ import annotations

import pytest

from scheduling.calendars import (
    EXCHANGE_CAPABILITIES,
    FULL_CAPABILITIES,
    AccessRole,
    Capabilities,
    ProviderKind,
    capabilities_of,
    selectable_for_availability,
)

ALL_FALSE = Capabilities(
    cancel_meetings=False, reschedule_meetings=False, two_way_sync=False, insert_times_in_email=False
)
ALL_TRUE = Capabilities(cancel_meetings=True, reschedule_meetings=True, two_way_sync=True, insert_times_in_email=True)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (ProviderKind.GOOGLE, ALL_TRUE),
        (ProviderKind.OFFICE365, ALL_TRUE),
        (ProviderKind.EXCHANGE, ALL_FALSE),
    ],
)
def test_exchange_has_none_of_the_four_capabilities_the_others_all(kind: ProviderKind, expected: Capabilities) -> None:
    assert capabilities_of(kind) == expected


@pytest.mark.parametrize("kind", list(ProviderKind))
def test_capabilities_of_accepts_the_stored_string_value(kind: ProviderKind) -> None:
    assert capabilities_of(kind.value) == capabilities_of(kind)


def test_named_capability_sets_are_all_true_and_all_false() -> None:
    assert FULL_CAPABILITIES == ALL_TRUE
    assert EXCHANGE_CAPABILITIES == ALL_FALSE


def test_capabilities_of_an_unknown_provider_is_an_error() -> None:
    with pytest.raises(ValueError):
        capabilities_of("CALDAV")


@pytest.mark.parametrize(
    ("role", "selectable"),
    [
        (AccessRole.OWNER, True),
        (AccessRole.WRITER, True),
        (AccessRole.READER, True),
        (AccessRole.FREE_BUSY, False),
    ],
)
def test_only_free_busy_shares_are_not_selectable_for_availability(role: AccessRole, selectable: bool) -> None:
    assert selectable_for_availability(role) is selectable
    assert selectable_for_availability(role.value) is selectable


@pytest.mark.parametrize(
    ("stored", "selectable"),
    [("owner", True), ("writer", True), ("reader", True), ("freeBusyReader", False)],
)
def test_selectable_for_availability_reads_stored_role_strings(stored: str, selectable: bool) -> None:
    assert selectable_for_availability(stored) is selectable
