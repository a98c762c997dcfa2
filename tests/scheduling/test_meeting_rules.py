"""Meetings on CRM records, cancelling and CRM tasks (scheduling.meeting_rules)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest

from scheduling.booking_rules import MeetingStatus
from scheduling.calendars import ProviderKind
from scheduling.errors import InvalidInput, Unsupported
from scheduling.meeting_rules import check_cancellable, crm_meeting_syncs, meeting_span, task_syncs

START = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))
MINUS_FIVE = timezone(timedelta(hours=-5))

# --- meeting span -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (START.replace(tzinfo=None), START + timedelta(hours=1), "start"),
        (START, (START + timedelta(hours=1)).replace(tzinfo=None), "end"),
        (START.replace(tzinfo=None), (START + timedelta(hours=1)).replace(tzinfo=None), "start"),
        (START, START - timedelta(minutes=1), "end"),
        (START, START, "end"),
        (START, START + timedelta(hours=24, minutes=1), "end"),
    ],
    ids=["naive-start", "naive-end", "both-naive", "end-before-start", "empty", "24h-and-a-minute"],
)
def test_an_invalid_span_names_the_field(start: datetime, end: datetime, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        meeting_span(start, end)

    assert error.value.field == field


@pytest.mark.parametrize(
    "length", [timedelta(minutes=1), timedelta(hours=1), timedelta(hours=24)], ids=["1min", "1h", "24h"]
)
def test_a_span_up_to_24_hours_is_accepted(length: timedelta) -> None:
    assert meeting_span(START, START + length) == (START, START + length)


def test_the_span_is_returned_in_utc() -> None:
    # when
    start, end = meeting_span(
        datetime(2026, 6, 15, 12, 0, tzinfo=PLUS_TWO), datetime(2026, 6, 15, 8, 30, tzinfo=MINUS_FIVE)
    )

    # then
    assert (start, end) == (datetime(2026, 6, 15, 10, 0, tzinfo=UTC), datetime(2026, 6, 15, 13, 30, tzinfo=UTC))
    assert start.tzinfo is UTC
    assert end.tzinfo is UTC


def test_ends_in_different_offsets_are_compared_as_instants() -> None:
    # given: 23:00-05:00 is 04:00Z the next day, the same instant as 05:00+01:00
    start = datetime(2026, 6, 15, 23, 0, tzinfo=MINUS_FIVE)
    end = datetime(2026, 6, 16, 5, 0, tzinfo=timezone(timedelta(hours=1)))

    # when / then
    with pytest.raises(InvalidInput) as error:
        meeting_span(start, end)
    assert error.value.field == "end"


# --- CRM meetings and calendar sync -------------------------------------------------------------

KINDS = [ProviderKind.GOOGLE, ProviderKind.OFFICE365, ProviderKind.EXCHANGE, None]


@pytest.mark.parametrize(
    ("from_integration", "calendar_sync", "kind", "has_primary_calendar"),
    list(itertools.product((True, False), (True, False), KINDS, (True, False))),
)
def test_crm_meeting_syncs_truth_table(
    from_integration: bool, calendar_sync: bool, kind: ProviderKind | None, has_primary_calendar: bool
) -> None:
    # given
    expected = (
        not from_integration
        and calendar_sync
        and kind in (ProviderKind.GOOGLE, ProviderKind.OFFICE365)
        and has_primary_calendar
    )

    # when
    syncs = crm_meeting_syncs(
        from_integration=from_integration,
        calendar_sync=calendar_sync,
        kind=kind,
        has_primary_calendar=has_primary_calendar,
    )

    # then
    assert syncs is expected


@pytest.mark.parametrize("kind", [ProviderKind.GOOGLE, ProviderKind.OFFICE365])
def test_a_crm_meeting_with_sync_on_a_two_way_calendar_is_an_invitation(kind: ProviderKind) -> None:
    assert crm_meeting_syncs(from_integration=False, calendar_sync=True, kind=kind, has_primary_calendar=True)


@pytest.mark.parametrize(
    "overrides",
    [
        {"from_integration": True},
        {"calendar_sync": False},
        {"kind": ProviderKind.EXCHANGE},
        {"kind": None},
        {"has_primary_calendar": False},
    ],
    ids=["integration", "sync-off", "exchange", "no-connection", "no-primary"],
)
def test_a_crm_meeting_is_only_logged(overrides: dict[str, object]) -> None:
    # given
    arguments: dict[str, object] = {
        "from_integration": False,
        "calendar_sync": True,
        "kind": ProviderKind.GOOGLE,
        "has_primary_calendar": True,
        **overrides,
    }

    # when / then
    assert crm_meeting_syncs(**arguments) is False  # type: ignore[arg-type]


# --- cancelling ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_cancelled_meeting_cannot_be_cancelled_again(kind: ProviderKind | None) -> None:
    with pytest.raises(InvalidInput) as error:
        check_cancellable(MeetingStatus.CANCELLED, kind)

    assert error.value.field == "id"


@pytest.mark.parametrize("status", [MeetingStatus.BOOKED, MeetingStatus.REQUESTED])
def test_meetings_in_an_exchange_calendar_cannot_be_cancelled(status: MeetingStatus) -> None:
    with pytest.raises(Unsupported):
        check_cancellable(status, ProviderKind.EXCHANGE)


@pytest.mark.parametrize("kind", [ProviderKind.GOOGLE, ProviderKind.OFFICE365, None])
@pytest.mark.parametrize("status", [MeetingStatus.BOOKED, MeetingStatus.REQUESTED])
def test_live_meetings_in_google_office365_or_no_calendar_can_be_cancelled(
    status: MeetingStatus, kind: ProviderKind | None
) -> None:
    check_cancellable(status, kind)


# --- tasks --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task_sync", "connected", "expected"),
    [(True, True, True), (False, True, False), (True, False, False), (False, False, False)],
)
def test_tasks_go_to_the_task_calendar_only_with_task_sync_on(task_sync: bool, connected: bool, expected: bool) -> None:
    assert task_syncs(task_sync=task_sync, connected=connected) is expected
