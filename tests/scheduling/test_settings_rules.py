"""Calendar settings (scheduling.settings_rules): every change checked against the user's facts, as a whole."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduling.calendars import AccessRole, ConnectionStatus, ProviderKind
from scheduling.errors import InvalidInput, LicenseRequired, UserError
from scheduling.licences import Hub, SeatTier
from scheduling.settings_rules import (
    CalendarChoice,
    SettingsFacts,
    after_last_disconnect,
    check_removable,
    validate,
)


@dataclass(frozen=True)
class FakeSeat:
    """Implements scheduling.licences.Seat."""

    hub: Hub = Hub.SALES
    tier: SeatTier = SeatTier.PROFESSIONAL
    paid_seat: bool = True


PRO_SEAT = FakeSeat()
STARTER_SEAT = FakeSeat(tier=SeatTier.STARTER)
FREE_SEAT = FakeSeat(hub=Hub.NONE, tier=SeatTier.FREE, paid_seat=False)


def calendar(
    n: int,
    role: AccessRole | str = AccessRole.OWNER,
    status: ConnectionStatus = ConnectionStatus.ACTIVE,
    *,
    is_primary: bool = False,
) -> CalendarChoice:
    return CalendarChoice(
        id=uuid.UUID(int=n), name=f"Calendar {n}", access_role=role, status=status, is_primary=is_primary
    )


PRIMARY = calendar(1, is_primary=True)
WRITABLE = calendar(2, AccessRole.WRITER)
READABLE = calendar(3, AccessRole.READER)
FREE_BUSY = calendar(4, AccessRole.FREE_BUSY)
FREE_BUSY_STORED = calendar(5, "freeBusyReader")
INACTIVE = calendar(6, status=ConnectionStatus.INACTIVE)
CALENDARS = {c.id: c for c in (PRIMARY, WRITABLE, READABLE, FREE_BUSY, FREE_BUSY_STORED, INACTIVE)}

OWN_PAGE = uuid.UUID(int=101)
OTHER_OWN_PAGE = uuid.UUID(int=102)
SOMEONE_ELSES_PAGE = uuid.UUID(int=199)
ACCOUNT_DOMAIN = uuid.UUID(int=201)
UNVERIFIED_DOMAIN = uuid.UUID(int=202)
OTHER_ACCOUNT_DOMAIN = uuid.UUID(int=299)
NOT_AN_ID = "not-an-id"

FACTS = SettingsFacts(
    seat=PRO_SEAT,
    connection_kinds=(ProviderKind.GOOGLE,),
    task_calendar_exists=False,
    chat_include_meeting_link=False,
    chat_meeting_link_id=None,
    calendars=CALENDARS,
    own_page_ids=frozenset({OWN_PAGE, OTHER_OWN_PAGE}),
    account_domain_ids=frozenset({ACCOUNT_DOMAIN, UNVERIFIED_DOMAIN}),
    verified_domain_ids=frozenset({ACCOUNT_DOMAIN}),
)
"""A paid Sales Professional user with one Google connection, two pages and two account domains (one verified)."""


def field_of(changes: dict[str, Any], facts: SettingsFacts = FACTS) -> str | None:
    with pytest.raises(InvalidInput) as error:
        validate(changes, facts)
    return error.value.field


# --- calendar sync ------------------------------------------------------------------------------


def test_calendar_sync_needs_a_connected_calendar() -> None:
    # given
    facts = replace(FACTS, connection_kinds=())

    # when / then
    assert field_of({"calendar_sync": True}, facts) == "calendarSync"


def test_calendar_sync_is_refused_with_only_exchange_connected() -> None:
    # given
    facts = replace(FACTS, connection_kinds=(ProviderKind.EXCHANGE,))

    # when / then
    assert field_of({"calendar_sync": True}, facts) == "calendarSync"


@pytest.mark.parametrize(
    "kinds",
    [
        (ProviderKind.GOOGLE,),
        (ProviderKind.OFFICE365,),
        (ProviderKind.EXCHANGE, ProviderKind.GOOGLE),
        (ProviderKind.GOOGLE, ProviderKind.EXCHANGE),
    ],
)
def test_calendar_sync_is_allowed_with_a_two_way_sync_connection(kinds: tuple[ProviderKind, ...]) -> None:
    # given
    facts = replace(FACTS, connection_kinds=kinds)

    # when
    update = validate({"calendar_sync": True}, facts)

    # then
    assert update.values == {"calendar_sync": True}


@pytest.mark.parametrize("kinds", [(), (ProviderKind.EXCHANGE,)])
def test_calendar_sync_can_always_be_turned_off(kinds: tuple[ProviderKind, ...]) -> None:
    # given
    facts = replace(FACTS, connection_kinds=kinds)

    # when
    update = validate({"calendar_sync": False}, facts)

    # then
    assert update.values == {"calendar_sync": False}


# --- task sync ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seat", [FREE_SEAT, STARTER_SEAT, replace(PRO_SEAT, paid_seat=False)])
def test_task_sync_needs_the_licence(seat: FakeSeat) -> None:
    # given
    facts = replace(FACTS, seat=seat)

    # when / then
    with pytest.raises(LicenseRequired):
        validate({"task_sync": True}, facts)


def test_task_sync_needs_a_connected_calendar() -> None:
    # given
    facts = replace(FACTS, connection_kinds=())

    # when / then
    assert field_of({"task_sync": True}, facts) == "taskSync"


def test_task_sync_can_be_turned_off_without_licence_or_connection() -> None:
    # given
    facts = replace(FACTS, seat=FREE_SEAT, connection_kinds=())

    # when
    update = validate({"task_sync": False}, facts)

    # then
    assert update.values == {"task_sync": False}
    assert update.create_task_calendar is False


@pytest.mark.parametrize(
    ("changes", "task_calendar_exists", "create"),
    [
        ({"task_sync": True}, False, True),
        ({"task_sync": True}, True, False),
        ({"task_sync": False}, False, False),
        ({"task_sync": False}, True, False),
        ({"task_sync": None}, False, False),
        ({}, False, False),
    ],
)
def test_the_task_calendar_is_created_only_when_task_sync_is_turned_on_without_one(
    changes: dict[str, Any], task_calendar_exists: bool, create: bool
) -> None:
    # given
    facts = replace(FACTS, task_calendar_exists=task_calendar_exists)

    # when
    update = validate(changes, facts)

    # then
    assert update.create_task_calendar is create


# --- availability calendars ---------------------------------------------------------------------


def test_availability_calendars_are_the_complete_chosen_set() -> None:
    # when
    update = validate({"availability_calendar_ids": [str(PRIMARY.id), str(WRITABLE.id), str(READABLE.id)]}, FACTS)

    # then
    assert update.availability_calendar_ids == frozenset({PRIMARY.id, WRITABLE.id, READABLE.id})
    assert update.values == {}


def test_an_empty_availability_list_clears_the_set() -> None:
    assert validate({"availability_calendar_ids": []}, FACTS).availability_calendar_ids == frozenset()


@pytest.mark.parametrize("changes", [{}, {"availability_calendar_ids": None}])
def test_absent_or_null_availability_leaves_the_set_as_it_is(changes: dict[str, Any]) -> None:
    assert validate(changes, FACTS).availability_calendar_ids is None


@pytest.mark.parametrize(
    "ids",
    [
        [str(uuid.UUID(int=999))],
        [str(PRIMARY.id), str(uuid.UUID(int=999))],
        [str(FREE_BUSY.id)],
        [str(FREE_BUSY_STORED.id)],
        [str(WRITABLE.id), str(INACTIVE.id)],
        [NOT_AN_ID],
        [str(PRIMARY.id), ""],
    ],
    ids=[
        "not-the-users",
        "one-not-the-users",
        "free-busy-share",
        "free-busy-stored-role",
        "inactive",
        "malformed",
        "empty",
    ],
)
def test_refused_availability_calendars_name_the_field(ids: list[str]) -> None:
    assert field_of({"availability_calendar_ids": ids}) == "availabilityCalendarIds"


def test_availability_calendars_are_checked_against_the_users_calendars_only() -> None:
    # given
    facts = replace(FACTS, calendars={})

    # when / then
    assert field_of({"availability_calendar_ids": [str(PRIMARY.id)]}, facts) == "availabilityCalendarIds"


# --- meeting URL prefix -------------------------------------------------------------------------


@pytest.mark.parametrize("seat", [STARTER_SEAT, PRO_SEAT, FakeSeat(Hub.SERVICE, SeatTier.ENTERPRISE, True)])
def test_a_licensed_user_may_set_a_prefix(seat: FakeSeat) -> None:
    # given
    facts = replace(FACTS, seat=seat)

    # when
    update = validate({"meeting_url_prefix": " Sales-Team "}, facts)

    # then
    assert update.values == {"meeting_url_prefix": "sales-team"}


@pytest.mark.parametrize(
    "seat", [FREE_SEAT, FakeSeat(Hub.NONE, SeatTier.ENTERPRISE, True), replace(STARTER_SEAT, paid_seat=False)]
)
def test_a_prefix_needs_the_licence(seat: FakeSeat) -> None:
    # given
    facts = replace(FACTS, seat=seat)

    # when / then
    with pytest.raises(LicenseRequired):
        validate({"meeting_url_prefix": "sales"}, facts)


@pytest.mark.parametrize("prefix", ["", "sales team", "sales_team", "-sales", "sales/team", "a" * 101])
def test_an_invalid_prefix_names_the_field(prefix: str) -> None:
    assert field_of({"meeting_url_prefix": prefix}) == "meetingUrlPrefix"


@pytest.mark.parametrize("seat", [PRO_SEAT, FREE_SEAT])
def test_a_null_prefix_clears_it_without_a_licence(seat: FakeSeat) -> None:
    # given
    facts = replace(FACTS, seat=seat)

    # when
    update = validate({"meeting_url_prefix": None}, facts)

    # then
    assert update.values == {"meeting_url_prefix": None}


# --- default and chat meeting links -------------------------------------------------------------

LINKS = [("default_meeting_link_id", "defaultMeetingLinkId"), ("chat_meeting_link_id", "chatMeetingLinkId")]


@pytest.mark.parametrize(("name", "field"), LINKS)
def test_a_link_to_an_own_page_is_accepted(name: str, field: str) -> None:
    assert validate({name: str(OWN_PAGE)}, FACTS).values == {name: OWN_PAGE}


@pytest.mark.parametrize(("name", "field"), LINKS)
def test_a_link_to_someone_elses_page_names_the_field(name: str, field: str) -> None:
    assert field_of({name: str(SOMEONE_ELSES_PAGE)}) == field


@pytest.mark.parametrize(("name", "field"), LINKS)
def test_a_malformed_link_id_names_the_field(name: str, field: str) -> None:
    assert field_of({name: NOT_AN_ID}) == field


@pytest.mark.parametrize(("name", "field"), LINKS)
def test_a_null_link_clears_it(name: str, field: str) -> None:
    assert validate({name: None}, FACTS).values == {name: None}


# --- meeting domain -----------------------------------------------------------------------------


def test_a_domain_of_the_account_is_accepted() -> None:
    assert validate({"meeting_domain_id": str(ACCOUNT_DOMAIN)}, FACTS).values == {"meeting_domain_id": ACCOUNT_DOMAIN}


@pytest.mark.parametrize("value", [str(OTHER_ACCOUNT_DOMAIN), NOT_AN_ID, str(UNVERIFIED_DOMAIN)])
def test_a_domain_not_in_the_account_or_unverified_names_the_field(value: str) -> None:
    assert field_of({"meeting_domain_id": value}) == "meetingDomainId"


def test_a_null_domain_clears_it() -> None:
    assert validate({"meeting_domain_id": None}, FACTS).values == {"meeting_domain_id": None}


# --- chat profile link --------------------------------------------------------------------------


def test_including_the_chat_link_needs_a_chosen_page() -> None:
    assert field_of({"chat_include_meeting_link": True}) == "chatMeetingLinkId"


def test_including_the_chat_link_with_a_page_in_the_input_is_accepted() -> None:
    # when
    update = validate({"chat_include_meeting_link": True, "chat_meeting_link_id": str(OWN_PAGE)}, FACTS)

    # then
    assert update.values == {"chat_include_meeting_link": True, "chat_meeting_link_id": OWN_PAGE}


def test_including_the_chat_link_with_the_page_already_chosen_is_accepted() -> None:
    # given
    facts = replace(FACTS, chat_meeting_link_id=OWN_PAGE)

    # when
    update = validate({"chat_include_meeting_link": True}, facts)

    # then
    assert update.values == {"chat_include_meeting_link": True}


def test_clearing_the_chat_page_while_it_is_included_is_refused() -> None:
    # given
    facts = replace(FACTS, chat_include_meeting_link=True, chat_meeting_link_id=OWN_PAGE)

    # when / then
    assert field_of({"chat_meeting_link_id": None}, facts) == "chatMeetingLinkId"


def test_clearing_the_chat_page_while_turning_inclusion_off_is_accepted() -> None:
    # given
    facts = replace(FACTS, chat_include_meeting_link=True, chat_meeting_link_id=OWN_PAGE)

    # when
    update = validate({"chat_include_meeting_link": False, "chat_meeting_link_id": None}, facts)

    # then
    assert update.values == {"chat_include_meeting_link": False, "chat_meeting_link_id": None}


def test_replacing_the_included_chat_page_is_accepted() -> None:
    # given
    facts = replace(FACTS, chat_include_meeting_link=True, chat_meeting_link_id=OWN_PAGE)

    # when
    update = validate({"chat_meeting_link_id": str(OTHER_OWN_PAGE)}, facts)

    # then
    assert update.values == {"chat_meeting_link_id": OTHER_OWN_PAGE}


def test_an_explicit_null_inclusion_keeps_the_current_one_when_clearing_the_page() -> None:
    # given
    facts = replace(FACTS, chat_include_meeting_link=True, chat_meeting_link_id=OWN_PAGE)

    # when / then
    assert field_of({"chat_include_meeting_link": None, "chat_meeting_link_id": None}, facts) == "chatMeetingLinkId"


# --- the input as a whole -----------------------------------------------------------------------


def test_an_empty_input_changes_nothing() -> None:
    # when
    update = validate({}, FACTS)

    # then
    assert update.values == {}
    assert update.availability_calendar_ids is None
    assert update.create_task_calendar is False


@pytest.mark.parametrize(
    "name", ["calendar_sync", "task_sync", "scheduling_pages_enabled", "chat_include_meeting_link"]
)
def test_a_null_flag_is_left_as_it_is(name: str) -> None:
    assert validate({name: None}, FACTS).values == {}


def test_a_valid_full_input_returns_exactly_the_values_to_write() -> None:
    # given
    changes = {
        "calendar_sync": True,
        "task_sync": True,
        "scheduling_pages_enabled": False,
        "availability_calendar_ids": [str(PRIMARY.id), str(READABLE.id)],
        "meeting_url_prefix": "Sales",
        "default_meeting_link_id": str(OWN_PAGE),
        "meeting_domain_id": str(ACCOUNT_DOMAIN),
        "chat_include_meeting_link": True,
        "chat_meeting_link_id": str(OTHER_OWN_PAGE),
    }

    # when
    update = validate(changes, FACTS)

    # then
    assert update.values == {
        "calendar_sync": True,
        "task_sync": True,
        "scheduling_pages_enabled": False,
        "meeting_url_prefix": "sales",
        "default_meeting_link_id": OWN_PAGE,
        "meeting_domain_id": ACCOUNT_DOMAIN,
        "chat_include_meeting_link": True,
        "chat_meeting_link_id": OTHER_OWN_PAGE,
    }
    assert update.availability_calendar_ids == frozenset({PRIMARY.id, READABLE.id})
    assert update.create_task_calendar is True


@pytest.mark.parametrize(
    "invalid",
    [
        {"meeting_domain_id": str(OTHER_ACCOUNT_DOMAIN)},
        {"availability_calendar_ids": [str(FREE_BUSY.id)]},
        {"default_meeting_link_id": str(SOMEONE_ELSES_PAGE)},
    ],
)
def test_one_invalid_field_refuses_the_whole_input(invalid: dict[str, Any]) -> None:
    # given
    changes = {"calendar_sync": True, "meeting_url_prefix": "sales", **invalid}

    # when / then
    with pytest.raises(InvalidInput):
        validate(changes, FACTS)


def test_the_facts_seat_may_be_any_object_with_hub_tier_and_paid_seat() -> None:
    # given
    @dataclass(frozen=True)
    class User:
        email: str
        hub: Hub
        tier: SeatTier
        paid_seat: bool

    facts = replace(FACTS, seat=User("ada@example.com", Hub.SERVICE, SeatTier.ENTERPRISE, True))

    # when
    update = validate({"task_sync": True}, facts)

    # then
    assert update.values == {"task_sync": True}


SETTINGS_FIELDS = {
    "calendar_sync": st.one_of(st.none(), st.booleans()),
    "task_sync": st.one_of(st.none(), st.booleans()),
    "scheduling_pages_enabled": st.one_of(st.none(), st.booleans()),
    "chat_include_meeting_link": st.one_of(st.none(), st.booleans()),
    "availability_calendar_ids": st.one_of(
        st.none(), st.lists(st.sampled_from([str(PRIMARY.id), str(WRITABLE.id), str(READABLE.id)]))
    ),
    "meeting_url_prefix": st.one_of(st.none(), st.sampled_from(["sales", "Support-EU", "bad prefix"])),
    "default_meeting_link_id": st.one_of(st.none(), st.sampled_from([str(OWN_PAGE), str(OTHER_OWN_PAGE)])),
    "chat_meeting_link_id": st.one_of(st.none(), st.sampled_from([str(OWN_PAGE), str(OTHER_OWN_PAGE)])),
    "meeting_domain_id": st.one_of(st.none(), st.just(str(ACCOUNT_DOMAIN))),
}


@st.composite
def settings_changes(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.sets(st.sampled_from(sorted(SETTINGS_FIELDS))))
    return {name: draw(SETTINGS_FIELDS[name]) for name in sorted(names)}


@given(changes=settings_changes(), chat_page=st.sampled_from([None, OWN_PAGE]), include=st.booleans())
def test_validate_never_returns_values_for_a_field_not_in_the_input(
    changes: dict[str, Any], chat_page: uuid.UUID | None, include: bool
) -> None:
    # given
    facts = replace(FACTS, chat_meeting_link_id=chat_page, chat_include_meeting_link=include and chat_page is not None)

    # when
    try:
        update = validate(changes, facts)
    except UserError:
        return

    # then
    assert set(update.values) <= set(changes)
    assert (update.availability_calendar_ids is None) == (changes.get("availability_calendar_ids") is None)


# --- removing calendars, disconnecting ----------------------------------------------------------


@pytest.mark.parametrize(
    "choice",
    [
        calendar(7, status=ConnectionStatus.ACTIVE),
        calendar(8, status=ConnectionStatus.ACTIVE, is_primary=True),
        calendar(9, status=ConnectionStatus.INACTIVE, is_primary=True),
    ],
    ids=["active", "active-primary", "inactive-primary"],
)
def test_only_an_inactive_secondary_calendar_can_be_removed(choice: CalendarChoice) -> None:
    with pytest.raises(InvalidInput) as error:
        check_removable(choice)

    assert error.value.field == "calendarId"


def test_an_inactive_secondary_calendar_can_be_removed() -> None:
    check_removable(calendar(10, AccessRole.READER, ConnectionStatus.INACTIVE))


def test_with_the_last_account_disconnected_nothing_is_synced() -> None:
    assert after_last_disconnect() == {"calendar_sync": False, "task_sync": False}
