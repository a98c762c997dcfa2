"""Input formats (scheduling.validation): each accepted value comes back cleaned, each refusal names its field."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduling import validation
from scheduling.errors import InvalidInput

# --- email --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ada@example.com", "ada@example.com"),
        ("Ada.Lovelace@Example.COM", "ada.lovelace@example.com"),
        ("  ada+meetings@mail.example.co.uk  ", "ada+meetings@mail.example.co.uk"),
        ("o'brien@example-mail.ie", "o'brien@example-mail.ie"),
        ("x" * 64 + "@example.com", "x" * 64 + "@example.com"),
    ],
)
def test_email_accepts_and_lowercases_valid_addresses(value: str, expected: str) -> None:
    assert validation.email(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "plain",
        "@example.com",
        "ada@",
        "ada@example",
        "ada@@example.com",
        "ada lovelace@example.com",
        "ada@-example.com",
        "ada@example-.com",
        "ada@exa_mple.com",
        "ada@example..com",
        "x" * 65 + "@example.com",
        "ada@" + "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + ".com",
    ],
)
def test_email_refuses_invalid_addresses(value: str) -> None:
    with pytest.raises(InvalidInput) as error:
        validation.email(value)

    assert error.value.field == "email"


def test_email_names_the_field_it_was_given() -> None:
    with pytest.raises(InvalidInput) as error:
        validation.email("nope", "contactEmail")

    assert error.value.field == "contactEmail"


# --- text ---------------------------------------------------------------------------------------


def test_text_strips_surrounding_whitespace() -> None:
    assert validation.text("  Intro call \n", "name", max_length=200) == "Intro call"


@pytest.mark.parametrize("value", ["", "   ", "\t\n"])
def test_required_text_refuses_empty_or_blank(value: str) -> None:
    with pytest.raises(InvalidInput) as error:
        validation.text(value, "title", max_length=10)

    assert error.value.field == "title"


@pytest.mark.parametrize("value", ["", "   "])
def test_optional_text_may_be_empty(value: str) -> None:
    assert validation.text(value, "note", max_length=10, required=False) == ""


def test_text_at_the_maximum_length_is_accepted() -> None:
    assert validation.text("x" * 10, "name", max_length=10) == "x" * 10


def test_text_one_over_the_maximum_length_is_refused() -> None:
    with pytest.raises(InvalidInput) as error:
        validation.text("x" * 11, "name", max_length=10)

    assert error.value.field == "name"


def test_text_length_is_counted_after_stripping() -> None:
    assert validation.text("  " + "x" * 10 + "  ", "name", max_length=10) == "x" * 10


def test_optional_text_still_has_a_maximum_length() -> None:
    with pytest.raises(InvalidInput) as error:
        validation.text("x" * 11, "note", max_length=10, required=False)

    assert error.value.field == "note"


# --- timezone -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["UTC", "Europe/Berlin", "America/New_York", "America/Argentina/Buenos_Aires", "Asia/Kathmandu"]
)
def test_timezone_accepts_iana_names_unchanged(value: str) -> None:
    assert validation.timezone(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Mars/Olympus_Mons",
        "Europe/",
        " UTC",
        "UTC ",
        "utc",
        "europe/berlin",
        "/etc/localtime",
        "../zoneinfo/UTC",
        "Europe/" + "x" * 60,
        "Europe/Berlin\x00",
    ],
)
def test_timezone_refuses_unknown_names(value: str) -> None:
    with pytest.raises(InvalidInput) as error:
        validation.timezone(value)

    assert error.value.field == "timezone"


def test_timezone_names_the_field_it_was_given() -> None:
    with pytest.raises(InvalidInput) as error:
        validation.timezone("Nowhere/Land", "defaultTimezone")

    assert error.value.field == "defaultTimezone"


def test_timezone_refuses_a_zone_directory_name() -> None:
    with pytest.raises(InvalidInput) as error:
        validation.timezone("Europe")

    assert error.value.field == "timezone"


# --- slug ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("intro", "intro"),
        ("a", "a"),
        ("7", "7"),
        ("intro-call-30", "intro-call-30"),
        ("Intro-Call", "intro-call"),
        ("  intro  ", "intro"),
        ("sales/intro-call", "sales/intro-call"),
        ("a" * 100, "a" * 100),
        ("a" * 100 + "/" + "b" * 99, "a" * 100 + "/" + "b" * 99),
    ],
)
def test_slug_accepts_and_lowercases_valid_slugs(value: str, expected: str) -> None:
    assert validation.slug(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "-intro",
        "intro-",
        "intro call",
        "intro_call",
        "intro.call",
        "café",
        "/intro",
        "sales/",
        "a/b/c",
        "sales//intro",
        "a" * 101,
        "sales/" + "b" * 101,
        "a" * 100 + "/" + "b" * 100,
    ],
)
def test_slug_refuses_invalid_slugs(value: str) -> None:
    with pytest.raises(InvalidInput) as error:
        validation.slug(value)

    assert error.value.field == "slug"


def test_slug_names_the_field_it_was_given() -> None:
    with pytest.raises(InvalidInput) as error:
        validation.slug("no spaces", "meetingUrlPrefix")

    assert error.value.field == "meetingUrlPrefix"


# --- hostname -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("meet.example.com", "meet.example.com"),
        ("Meet.Example.COM", "meet.example.com"),
        ("meet.example.com.", "meet.example.com"),
        ("  book.example.co.uk  ", "book.example.co.uk"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("a" * 63 + ".example.com", "a" * 63 + ".example.com"),
    ],
)
def test_hostname_accepts_and_normalises_host_names(value: str, expected: str) -> None:
    assert validation.hostname(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "localhost",
        "example",
        "-meet.example.com",
        "meet-.example.com",
        "meet..example.com",
        "meet_1.example.com",
        "meet.example.c",
        "meet.example.123",
        "127.0.0.1",
        "https://meet.example.com",
        "meet.example.com/path",
        "a" * 64 + ".example.com",
        ".".join(["a" * 63] * 4) + ".com",
    ],
)
def test_hostname_refuses_invalid_host_names(value: str) -> None:
    with pytest.raises(InvalidInput) as error:
        validation.hostname(value)

    assert error.value.field == "hostname"


def test_hostname_names_the_field_it_was_given() -> None:
    with pytest.raises(InvalidInput) as error:
        validation.hostname("nope", "domain")

    assert error.value.field == "domain"


# --- int_range ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [5, 6, 719, 720])
def test_int_range_accepts_values_within_the_bounds(value: int) -> None:
    assert validation.int_range(value, "durationMinutes", low=5, high=720) == value


@pytest.mark.parametrize("value", [-1, 0, 4, 721, 10_000])
def test_int_range_refuses_values_outside_the_bounds(value: int) -> None:
    with pytest.raises(InvalidInput) as error:
        validation.int_range(value, "durationMinutes", low=5, high=720)

    assert error.value.field == "durationMinutes"


@given(value=st.integers(), low=st.integers(-1000, 1000), width=st.integers(0, 1000))
def test_int_range_refuses_exactly_the_values_outside_low_high(value: int, low: int, width: int) -> None:
    high = low + width
    if low <= value <= high:
        assert validation.int_range(value, "n", low=low, high=high) == value
    else:
        with pytest.raises(InvalidInput):
            validation.int_range(value, "n", low=low, high=high)


# --- input_id -----------------------------------------------------------------------------------

SOME_ID = uuid.UUID("6f1c1b2e-3d4a-4b5c-8d9e-0f1a2b3c4d5e")


@pytest.mark.parametrize("value", [str(SOME_ID), str(SOME_ID).upper(), SOME_ID.hex])
def test_input_id_parses_uuids(value: str) -> None:
    assert validation.input_id(value, "pageId") == SOME_ID


@pytest.mark.parametrize("value", ["", "42", "not-an-id", str(SOME_ID)[:-1], str(SOME_ID) + "0"])
def test_input_id_refuses_malformed_ids_naming_the_field(value: str) -> None:
    with pytest.raises(InvalidInput) as error:
        validation.input_id(value, "availabilityCalendarIds")

    assert error.value.field == "availabilityCalendarIds"


@given(st.uuids())
def test_input_id_round_trips_any_uuid(value: uuid.UUID) -> None:
    assert validation.input_id(str(value), "id") == value


# --- instant (dates taken as input) ----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [validation.EARLIEST, validation.LATEST - timedelta(microseconds=1), datetime(2026, 12, 7, 10, tzinfo=UTC)],
)
def test_instant_accepts_the_sane_window_and_answers_utc(value: datetime) -> None:
    berlin = value.astimezone(ZoneInfo("Europe/Berlin"))

    assert validation.instant(berlin, "start") == value
    assert validation.instant(berlin, "start").utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        validation.EARLIEST - timedelta(microseconds=1),
        validation.LATEST,
        datetime.min.replace(tzinfo=timezone(timedelta(hours=5))),
        datetime.max.replace(tzinfo=timezone(timedelta(hours=-5))),
        datetime(2026, 12, 7, 10),
    ],
)
def test_instant_refuses_naive_and_out_of_window_dates_naming_the_field(value: datetime) -> None:
    with pytest.raises(InvalidInput) as error:
        validation.instant(value, "due")

    assert error.value.field == "due"


@given(st.datetimes(timezones=st.timezones()))
def test_instant_answers_a_utc_date_in_the_window_or_invalid_input(value: datetime) -> None:
    try:
        moment = validation.instant(value, "start")
    except InvalidInput:
        return
    assert validation.EARLIEST <= moment < validation.LATEST
    assert moment.utcoffset() == timedelta(0) and moment.timestamp() == value.timestamp()


# --- at_most (list inputs) ------------------------------------------------------------------------


def test_at_most_allows_the_maximum_and_refuses_one_more() -> None:
    validation.at_most([1, 2], "weeklyHours", max_items=2)

    with pytest.raises(InvalidInput) as error:
        validation.at_most([1, 2, 3], "weeklyHours", max_items=2)

    assert error.value.field == "weeklyHours"
