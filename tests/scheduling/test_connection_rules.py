"""Connecting a calendar (scheduling.connection_rules): permission, one account (two for legacy users),
personal inboxes only, defaults after connecting, and the Exchange input checks."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduling.calendars import ProviderKind
from scheduling.connection_rules import (
    LEGACY_DUAL_ACCOUNT_CUTOFF,
    MAX_EWS_URL,
    MAX_PASSWORD,
    check_exchange_password,
    check_inbox_connectable,
    check_permission,
    ews_url,
    forfeits_legacy_dual,
    free_slot,
    may_hold_two_connections,
    turns_on_sync_and_pages,
)
from scheduling.errors import ConnectionLimit, InvalidInput, PermissionRequired, SharedInbox

USER = uuid.UUID(int=1)
OTHER_USER = uuid.UUID(int=2)
TICK = timedelta(microseconds=1)

# --- permission ---------------------------------------------------------------------------------


def test_connecting_needs_personal_email_access() -> None:
    with pytest.raises(PermissionRequired):
        check_permission(False)


def test_connecting_with_personal_email_access_is_allowed() -> None:
    check_permission(True)


# --- legacy two-account users -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("created_at", "legacy"),
    [
        (LEGACY_DUAL_ACCOUNT_CUTOFF - timedelta(days=365), True),
        (LEGACY_DUAL_ACCOUNT_CUTOFF - TICK, True),
        (LEGACY_DUAL_ACCOUNT_CUTOFF, False),
        (LEGACY_DUAL_ACCOUNT_CUTOFF + TICK, False),
        (LEGACY_DUAL_ACCOUNT_CUTOFF + timedelta(days=365), False),
    ],
    ids=["a-year-before", "just-before", "at-the-cutoff", "just-after", "a-year-after"],
)
def test_only_users_created_before_the_cutoff_may_hold_two(created_at: datetime, legacy: bool) -> None:
    assert may_hold_two_connections(created_at=created_at, legacy_dual_forfeited=False) is legacy


@pytest.mark.parametrize("offset_hours", [-8, 1, 5.5, 13])
def test_the_cutoff_is_an_instant_whatever_the_offset_of_created_at(offset_hours: float) -> None:
    # given
    zone = timezone(timedelta(hours=offset_hours))
    at_cutoff = LEGACY_DUAL_ACCOUNT_CUTOFF.astimezone(zone)

    # then
    assert may_hold_two_connections(created_at=at_cutoff - TICK, legacy_dual_forfeited=False) is True
    assert may_hold_two_connections(created_at=at_cutoff, legacy_dual_forfeited=False) is False


def test_a_legacy_user_who_removed_one_account_may_no_longer_hold_two() -> None:
    assert (
        may_hold_two_connections(created_at=LEGACY_DUAL_ACCOUNT_CUTOFF - timedelta(days=1), legacy_dual_forfeited=True)
        is False
    )


@pytest.mark.parametrize(("held", "forfeits"), [(0, False), (1, False), (2, True)])
def test_removing_one_of_two_connections_forfeits_the_legacy_second(held: int, forfeits: bool) -> None:
    assert forfeits_legacy_dual(held) is forfeits


# --- connection slots ---------------------------------------------------------------------------


def test_a_new_user_takes_slot_one() -> None:
    assert free_slot(set(), may_hold_two=False) == 1


def test_a_new_user_with_one_connection_hits_the_limit() -> None:
    with pytest.raises(ConnectionLimit):
        free_slot({1}, may_hold_two=False)


@pytest.mark.parametrize(("taken", "expected"), [(set(), 1), ({1}, 2), ({2}, 1)])
def test_a_legacy_user_takes_the_free_one_of_two_slots(taken: set[int], expected: int) -> None:
    assert free_slot(taken, may_hold_two=True) == expected


def test_a_legacy_user_with_two_connections_hits_the_limit() -> None:
    with pytest.raises(ConnectionLimit):
        free_slot({1, 2}, may_hold_two=True)


@pytest.mark.parametrize("taken", [{1}, {2}])
def test_a_legacy_user_who_forfeited_holds_only_one(taken: set[int]) -> None:
    # given
    may_hold_two = may_hold_two_connections(
        created_at=LEGACY_DUAL_ACCOUNT_CUTOFF - timedelta(days=1), legacy_dual_forfeited=True
    )

    # when / then
    with pytest.raises(ConnectionLimit):
        free_slot(taken, may_hold_two=may_hold_two)


def test_a_legacy_user_who_forfeited_and_holds_none_takes_slot_one() -> None:
    assert free_slot(set(), may_hold_two=False) == 1


def test_the_legacy_limit_message_names_the_cutoff_date() -> None:
    with pytest.raises(ConnectionLimit) as error:
        free_slot({1, 2}, may_hold_two=True)

    assert f"{LEGACY_DUAL_ACCOUNT_CUTOFF:%Y-%m-%d}" in error.value.message


@given(taken=st.sets(st.sampled_from([1, 2])), may_hold_two=st.booleans())
def test_free_slot_is_a_free_allowed_slot_or_the_limit(taken: set[int], may_hold_two: bool) -> None:
    allowed = 2 if may_hold_two else 1
    if len(taken) >= allowed:
        with pytest.raises(ConnectionLimit):
            free_slot(taken, may_hold_two=may_hold_two)
    else:
        slot = free_slot(taken, may_hold_two=may_hold_two)
        assert slot not in taken
        assert 1 <= slot <= allowed


# --- inboxes ------------------------------------------------------------------------------------


def test_an_address_without_an_inbox_can_be_connected() -> None:
    check_inbox_connectable("ada@example.com", inbox_shared=None, inbox_user_id=None, user_id=USER)


def test_the_users_own_personal_inbox_can_be_connected() -> None:
    check_inbox_connectable("ada@example.com", inbox_shared=False, inbox_user_id=USER, user_id=USER)


def test_a_personal_inbox_without_an_owner_can_be_connected() -> None:
    check_inbox_connectable("ada@example.com", inbox_shared=False, inbox_user_id=None, user_id=USER)


@pytest.mark.parametrize("inbox_user_id", [None, USER, OTHER_USER])
def test_a_shared_inbox_cannot_be_connected(inbox_user_id: uuid.UUID | None) -> None:
    with pytest.raises(SharedInbox):
        check_inbox_connectable("team@example.com", inbox_shared=True, inbox_user_id=inbox_user_id, user_id=USER)


def test_another_users_personal_inbox_cannot_be_connected() -> None:
    with pytest.raises(InvalidInput) as error:
        check_inbox_connectable("bob@example.com", inbox_shared=False, inbox_user_id=OTHER_USER, user_id=USER)

    assert error.value.field == "email"


# --- defaults after connecting ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "turns_on"),
    [(ProviderKind.GOOGLE, True), (ProviderKind.OFFICE365, True), (ProviderKind.EXCHANGE, False)],
)
def test_google_and_office365_turn_on_sync_and_pages_exchange_does_not(kind: ProviderKind, turns_on: bool) -> None:
    assert turns_on_sync_and_pages(kind) is turns_on


# --- Exchange input -----------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["x", "app password with spaces", "x" * MAX_PASSWORD])
def test_exchange_password_up_to_the_maximum_is_accepted(password: str) -> None:
    check_exchange_password(password)


@pytest.mark.parametrize("password", ["", "x" * (MAX_PASSWORD + 1)], ids=["empty", "max+1"])
def test_exchange_password_empty_or_too_long_is_refused(password: str) -> None:
    with pytest.raises(InvalidInput) as error:
        check_exchange_password(password)

    assert error.value.field == "password"


@pytest.mark.parametrize("value", [None, "", "   ", "\t\n"])
def test_a_missing_ews_url_means_autodiscover(value: str | None) -> None:
    assert ews_url(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://mail.example.com/EWS/Exchange.asmx", "https://mail.example.com/EWS/Exchange.asmx"),
        ("http://exchange.internal.example:8080/ews", "http://exchange.internal.example:8080/ews"),
        ("  https://mail.example.com/EWS/Exchange.asmx  ", "https://mail.example.com/EWS/Exchange.asmx"),
        ("https://10.0.0.5/EWS/Exchange.asmx", "https://10.0.0.5/EWS/Exchange.asmx"),
    ],
)
def test_an_http_or_https_ews_url_is_kept(value: str, expected: str) -> None:
    assert ews_url(value) == expected


LONG_URL_HEAD = "https://mail.example.com/"


@pytest.mark.parametrize(
    "value",
    [
        "ftp://mail.example.com/EWS/Exchange.asmx",
        "mail.example.com/EWS/Exchange.asmx",
        "https:///EWS/Exchange.asmx",
        "https://",
        "javascript:alert(1)",
        "file:///etc/passwd",
        LONG_URL_HEAD + "x" * (MAX_EWS_URL - len(LONG_URL_HEAD) + 1),
        "https://mail.example.com:99999/EWS/Exchange.asmx",
        "https://mail.example.com:0/EWS/Exchange.asmx",
        "https://[::1",
        "https://[::g]/EWS/Exchange.asmx",
        "https://mail example.com/EWS/Exchange.asmx",
        "https://user:secret@mail.example.com/EWS/Exchange.asmx",
        "https://" + "a" * 64 + ".example.com/",
    ],
    ids=[
        "ftp", "no-scheme", "no-host", "scheme-only", "javascript", "file", "max+1", "port-99999", "port-0",
        "open-bracket", "bad-ipv6", "space-in-host", "user-info", "label-over-63",
    ],
)  # fmt: skip
def test_an_ews_url_that_is_not_http_with_a_host_or_is_too_long_is_refused(value: str) -> None:
    with pytest.raises(InvalidInput) as error:
        ews_url(value)

    assert error.value.field == "ewsUrl"


def test_an_ews_url_of_the_maximum_length_is_accepted() -> None:
    # given
    value = LONG_URL_HEAD + "x" * (MAX_EWS_URL - len(LONG_URL_HEAD))

    # when / then
    assert len(value) == MAX_EWS_URL
    assert ews_url(value) == value
    assert ews_url(f"  {value}  ") == value  # the limit is on the URL, not on the spaces around it


def test_an_ews_url_with_a_malformed_ipv6_host_is_refused_as_invalid_input() -> None:
    with pytest.raises(InvalidInput) as error:
        ews_url("https://[mail.example.com/EWS/Exchange.asmx")

    assert error.value.field == "ewsUrl"
