"""Two-way sync's rules (scheduling.two_way): which events become meetings, what moves and cancels a meeting, and
that deciding again after a decision was written decides nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduling.booking_rules import MeetingStatus
from scheduling.calendars import ProviderKind
from scheduling.two_way import (
    Change,
    EventFacts,
    Invitee,
    MeetingFacts,
    after,
    applies,
    importable,
    is_move_refusal,
    linked,
    move_refused,
    on_changed,
    on_removed,
    owner_addresses,
)

NOW = datetime(2026, 12, 1, 8, tzinfo=UTC)
OWNER = "ada@example.com"
OWNERS = owner_addresses("Ada@Example.com", "ada.lovelace@crm.example")
CONTACT = Invitee("paul@customer.example", "Paul")
NOTHING_KNOWN: frozenset[str] = frozenset()


def event(**fields: object) -> EventFacts:
    values: dict[str, object] = {
        "id": "ev1",
        "start": NOW + timedelta(days=1),
        "end": NOW + timedelta(days=1, minutes=30),
        "summary": "Renewal",
        "organized_by_account": True,
        "attendees": (Invitee(OWNER), CONTACT),
    }
    values.update(fields)
    return EventFacts(**values)  # type: ignore[arg-type]


def meeting(**fields: object) -> MeetingFacts:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "start": NOW + timedelta(days=1),
        "end": NOW + timedelta(days=1, minutes=30),
        "status": MeetingStatus.BOOKED,
        "imported": False,
        "provider_event_id": "ev1",
        "title": "Intro with Carla",
        "contact_email": "carla@example.com",
        "contact_name": "Carla",
    }
    values.update(fields)
    return MeetingFacts(**values)  # type: ignore[arg-type]


def case_variants(address: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(address), max_size=len(address)).map(
        lambda upper: "".join(c.upper() if u else c.lower() for c, u in zip(address, upper, strict=True))
    )


offsets = st.integers(min_value=-3 * 24 * 60, max_value=30 * 24 * 60).map(lambda m: timedelta(minutes=m))
lengths = st.integers(min_value=1, max_value=48 * 60).map(lambda m: timedelta(minutes=m))
addresses = st.sampled_from(
    ["paul@customer.example", "Dora@Other.example", "ada@example.com", "ADA@EXAMPLE.COM", "not an address", ""]
)
invitees = st.builds(Invitee, addresses, st.one_of(st.none(), st.sampled_from(["Paul", " Dora ", ""])))


@st.composite
def events(draw: st.DrawFn) -> EventFacts:
    start = NOW + draw(offsets)
    return EventFacts(
        id=draw(st.sampled_from(["ev1", "ev2"])),
        start=start,
        end=start + draw(lengths),
        summary=draw(st.text(max_size=400)),
        organized_by_account=draw(st.booleans()),
        attendees=tuple(draw(st.lists(invitees, max_size=4))),
        key=draw(st.one_of(st.none(), st.uuids().map(str), st.just("task-key"))),
        from_integration=draw(st.booleans()),
    )


@st.composite
def meetings(draw: st.DrawFn) -> MeetingFacts:
    start = NOW + draw(offsets)
    return MeetingFacts(
        id=uuid.uuid4(),
        start=start,
        end=start + draw(lengths),
        status=draw(st.sampled_from(list(MeetingStatus))),
        imported=draw(st.booleans()),
        provider_event_id=draw(st.sampled_from(["ev1", "ev2", None])),
        title=draw(st.text(max_size=20)),
        contact_email=draw(addresses),
        contact_name=draw(st.text(max_size=10)),
        write_pending=draw(st.booleans()),
    )


# --- scope ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [ProviderKind.GOOGLE, ProviderKind.OFFICE365])
def test_applies_to_the_primary_calendar_of_an_active_google_or_office365_connection_with_sync_on(
    kind: ProviderKind,
) -> None:
    assert applies(calendar_sync=True, is_primary=True, kind=kind, connection_active=True)


@pytest.mark.parametrize(
    ("calendar_sync", "is_primary", "kind", "active"),
    [
        (False, True, ProviderKind.GOOGLE, True),
        (True, False, ProviderKind.GOOGLE, True),
        (True, True, ProviderKind.EXCHANGE, True),
        (True, True, ProviderKind.OFFICE365, False),
    ],
    ids=["sync-off", "availability-calendar", "exchange", "inactive"],
)
def test_applies_to_nothing_else(calendar_sync: bool, is_primary: bool, kind: ProviderKind, active: bool) -> None:
    assert not applies(calendar_sync=calendar_sync, is_primary=is_primary, kind=kind, connection_active=active)


# --- import ---------------------------------------------------------------------------------------------


def test_an_event_with_a_contact_is_imported_as_a_booked_meeting() -> None:
    # when
    outcome = on_changed(event(summary="  Renewal  "), None, OWNERS, known_event_ids=NOTHING_KNOWN, now=NOW)
    # then
    assert outcome is not None and outcome.change is Change.IMPORTED
    assert outcome.status is MeetingStatus.BOOKED and outcome.provider_event_id == "ev1"
    assert (outcome.title, outcome.contact_email, outcome.contact_name) == ("Renewal", "paul@customer.example", "Paul")


def test_the_contact_is_the_first_attendee_who_is_not_the_owner_in_lower_case() -> None:
    attendees = (Invitee("ADA.LOVELACE@crm.example"), Invitee("Dora@Other.Example", "Dora"), CONTACT)
    outcome = on_changed(event(attendees=attendees), None, OWNERS, known_event_ids=NOTHING_KNOWN, now=NOW)
    assert outcome is not None and (outcome.contact_email, outcome.contact_name) == ("dora@other.example", "Dora")


def test_a_long_summary_is_trimmed_to_the_title_column() -> None:
    outcome = on_changed(event(summary="x" * 400), None, OWNERS, known_event_ids=NOTHING_KNOWN, now=NOW)
    assert outcome is not None and outcome.title == "x" * 300


@pytest.mark.parametrize(
    "fields",
    [
        {"key": str(uuid.uuid4())},
        {"from_integration": True},
        {"organized_by_account": False},
        {"attendees": (Invitee(OWNER),)},
        {"attendees": ()},
        {"start": NOW.replace(hour=0) + timedelta(days=2), "end": NOW.replace(hour=0) + timedelta(days=3)},
        {"start": NOW - timedelta(hours=1), "end": NOW},
    ],
    ids=["meetgraph-key", "integration", "not-organiser", "owner-only", "no-attendees", "all-day", "over"],
)
def test_events_that_are_not_a_meeting_with_a_contact_are_not_imported(fields: dict[str, object]) -> None:
    assert on_changed(event(**fields), None, OWNERS, known_event_ids=NOTHING_KNOWN, now=NOW) is None


def test_an_event_whose_id_is_a_meetings_event_is_not_imported() -> None:
    assert on_changed(event(), None, OWNERS, known_event_ids=frozenset({"ev1"}), now=NOW) is None


@given(events())
def test_keyed_integration_all_day_past_and_contactless_events_are_never_imported(ev: EventFacts) -> None:
    outcome = on_changed(ev, None, OWNERS, known_event_ids=NOTHING_KNOWN, now=NOW)
    if outcome is None:
        return
    assert ev.key is None and not ev.from_integration and ev.organized_by_account
    assert ev.end - ev.start < timedelta(hours=23) and ev.end > NOW
    assert outcome.contact_email not in OWNERS
    assert any(a.email.strip().lower() == outcome.contact_email for a in ev.attendees)


@given(case_variants(OWNER), case_variants("ada.lovelace@crm.example"))
def test_the_owner_is_recognised_whatever_the_case(connection_email: str, user_email: str) -> None:
    owners = owner_addresses(connection_email, user_email)
    only_owner = event(attendees=(Invitee(OWNER.upper()), Invitee("Ada.Lovelace@CRM.example")))
    assert not importable(only_owner, owners, known_event_ids=NOTHING_KNOWN, now=NOW)


# --- linked meetings: moved, refreshed, linked, cancelled -----------------------------------------------


def test_a_booked_meeting_whose_event_moved_takes_the_events_time_and_keeps_its_contact() -> None:
    # given
    booked = meeting()
    moved = event(start=booked.start + timedelta(hours=2), end=booked.end + timedelta(hours=3), key=str(booked.id))
    # when
    outcome = on_changed(moved, booked, OWNERS, known_event_ids=NOTHING_KNOWN, now=NOW)
    # then
    assert outcome is not None and outcome.change is Change.MOVED and outcome.meeting_id == booked.id
    assert (outcome.start, outcome.end) == (moved.start, moved.end)
    assert (outcome.title, outcome.contact_email) == (booked.title, booked.contact_email)


def test_an_event_keyed_with_the_meeting_before_the_create_answered_is_linked() -> None:
    booked = meeting(provider_event_id=None)
    keyed = event(id="ev9", key=str(booked.id))
    assert linked(keyed, [meeting(), booked]) == booked
    outcome = on_changed(keyed, booked, OWNERS, known_event_ids=NOTHING_KNOWN, now=NOW)
    assert outcome is not None and outcome.change is Change.LINKED and outcome.provider_event_id == "ev9"


def test_a_meeting_whose_new_time_is_being_written_is_not_moved_back_by_its_events_old_time() -> None:
    rescheduled = meeting(start=NOW + timedelta(days=2), end=NOW + timedelta(days=2, minutes=30), write_pending=True)
    assert on_changed(event(), rescheduled, OWNERS, known_event_ids=NOTHING_KNOWN, now=NOW) is None


def test_a_meeting_whose_create_is_in_flight_follows_its_event_found_by_key() -> None:
    creating = meeting(provider_event_id=None, write_pending=True)
    moved = event(id="ev9", key=str(creating.id), start=NOW + timedelta(days=3), end=NOW + timedelta(days=3, hours=1))
    outcome = on_changed(moved, creating, OWNERS, known_event_ids=NOTHING_KNOWN, now=NOW)
    assert outcome is not None and outcome.change is Change.MOVED and outcome.provider_event_id == "ev9"


def test_an_imported_meeting_follows_its_events_title_and_contact() -> None:
    imported = meeting(imported=True, title="Renewal", contact_email="paul@customer.example", contact_name="Paul")
    changed = event(summary="Renewal (final)", attendees=(Invitee("dora@other.example", "Dora"),))
    outcome = on_changed(changed, imported, OWNERS, known_event_ids=NOTHING_KNOWN, now=NOW)
    assert outcome is not None and outcome.change is Change.REFRESHED
    assert (outcome.title, outcome.contact_email, outcome.contact_name) == (
        "Renewal (final)",
        "dora@other.example",
        "Dora",
    )


@pytest.mark.parametrize(
    "fields",
    [{"attendees": (Invitee(OWNER),)}, {"organized_by_account": False}],
    ids=["lost-its-attendees", "no-longer-organised-by-the-account"],
)
def test_an_imported_meeting_whose_event_stops_qualifying_is_cancelled(fields: dict[str, object]) -> None:
    imported = meeting(imported=True, title="Renewal", contact_email="paul@customer.example", contact_name="Paul")
    outcome = on_changed(event(**fields), imported, OWNERS, known_event_ids=NOTHING_KNOWN, now=NOW)
    assert outcome is not None and outcome.change is Change.CANCELLED and outcome.status is MeetingStatus.CANCELLED


def test_a_booked_meeting_is_not_cancelled_when_its_event_loses_attendees() -> None:
    booked = meeting()
    assert on_changed(event(attendees=()), booked, OWNERS, known_event_ids=NOTHING_KNOWN, now=NOW) is None


def test_a_removed_event_cancels_its_live_meeting() -> None:
    booked = meeting()
    outcome = on_removed("ev1", booked, now=NOW)
    assert outcome is not None and outcome.change is Change.CANCELLED and outcome.meeting_id == booked.id


@pytest.mark.parametrize(
    "fields",
    [{"status": MeetingStatus.CANCELLED}, {"start": NOW - timedelta(hours=2), "end": NOW - timedelta(hours=1)}],
    ids=["cancelled-here-first", "already-over"],
)
def test_a_removed_event_leaves_cancelled_and_past_meetings_alone(fields: dict[str, object]) -> None:
    assert on_removed("ev1", meeting(**fields), now=NOW) is None
    assert on_removed("ev1", None, now=NOW) is None


def test_a_cancelled_meeting_is_never_revived_by_its_event() -> None:
    cancelled = meeting(status=MeetingStatus.CANCELLED, imported=True)
    moved = event(start=cancelled.start + timedelta(hours=1), end=cancelled.end + timedelta(hours=1))
    assert on_changed(moved, cancelled, OWNERS, known_event_ids=NOTHING_KNOWN, now=NOW) is None


def test_the_move_refusal_note_is_recognised() -> None:
    assert (
        is_move_refusal(move_refused(NOW)) and not is_move_refusal("the provider refused") and not is_move_refusal(None)
    )


# --- idempotence ----------------------------------------------------------------------------------------


@given(events(), st.one_of(st.none(), meetings()))
def test_deciding_again_after_the_decision_is_written_decides_nothing(
    ev: EventFacts, current: MeetingFacts | None
) -> None:
    known = frozenset({current.provider_event_id} if current and current.provider_event_id else set())
    outcome = on_changed(ev, current, OWNERS, known_event_ids=known - {ev.id} if current else NOTHING_KNOWN, now=NOW)
    if outcome is None:
        return
    written = after(current, outcome)
    assert on_changed(ev, written, OWNERS, known_event_ids=frozenset({ev.id}), now=NOW) is None


@given(st.one_of(st.none(), meetings()))
def test_removing_twice_cancels_once(current: MeetingFacts | None) -> None:
    outcome = on_removed("ev1", current, now=NOW)
    if outcome is None:
        return
    assert on_removed("ev1", after(current, outcome), now=NOW) is None
