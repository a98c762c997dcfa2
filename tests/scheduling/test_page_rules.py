"""Scheduling pages (scheduling.page_rules): slugs from names and prefixes, and a page's validated fields."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduling import validation
from scheduling.errors import InvalidInput
from scheduling.page_rules import (
    DEFAULT_DURATION,
    MAX_BUFFER,
    MAX_DURATION,
    MAX_NOTICE,
    PageFields,
    PageInput,
    page_fields,
    slug_base,
    slugify,
    unique_slug,
)

BERLIN = "Europe/Berlin"
NINE_TO_FIVE_WEEKDAYS = [{"weekday": day, "start": "09:00", "end": "17:00"} for day in range(1, 6)]
SATURDAY_MORNINGS = [{"weekday": 6, "start": "08:00", "end": "12:00"}]


def fields_for(data: PageInput, current_hours: list[dict[str, Any]] | None = None) -> PageFields:
    return page_fields(data, default_timezone=BERLIN, current_hours=current_hours or [])


def error_field(data: PageInput, *, default_timezone: str = BERLIN) -> str | None:
    with pytest.raises(InvalidInput) as error:
        page_fields(data, default_timezone=default_timezone, current_hours=[])
    return error.value.field


# --- slugify ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Intro call", "intro-call"),
        ("intro-call", "intro-call"),
        ("Café Müller", "cafe-muller"),
        ("Ölçü — 30 min", "olcu-30-min"),
        ("  --Hello, World!!  ", "hello-world"),
        ("Q&A / Demo (30')", "q-a-demo-30"),
        ("a_b.c", "a-b-c"),
        ("ﬁne-tuning", "fine-tuning"),
        ("", "meeting"),
        ("   ", "meeting"),
        ("!!!", "meeting"),
        ("日本語", "meeting"),
        ("x" * 100, "x" * 80),
    ],
)
def test_slugify(name: str, expected: str) -> None:
    assert slugify(name) == expected


@given(st.text())
def test_slugify_gives_a_short_nonempty_lowercase_ascii_slug(name: str) -> None:
    # when
    slug = slugify(name)

    # then
    assert 1 <= len(slug) <= 80
    assert re.fullmatch(r"[a-z0-9-]+", slug)
    assert not slug.startswith("-")
    assert "--" not in slug


def test_a_slug_cut_to_80_characters_is_still_a_valid_slug() -> None:
    # given
    name = "a" * 79 + " b"

    # when
    slug = slugify(name)

    # then
    assert validation.slug(slug) == slug


# --- slug_base and unique_slug ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "name", "expected"),
    [
        (None, "Intro call", "intro-call"),
        ("", "Intro call", "intro-call"),
        ("sales", "Intro call", "sales/intro-call"),
        ("sales", "!!!", "sales/meeting"),
    ],
)
def test_slug_base_is_the_prefix_and_the_slugified_name(prefix: str | None, name: str, expected: str) -> None:
    assert slug_base(prefix, name) == expected


@pytest.mark.parametrize(
    ("taken", "expected"),
    [
        (set(), "intro"),
        ({"other"}, "intro"),
        ({"intro"}, "intro-2"),
        ({"intro", "intro-2"}, "intro-3"),
        ({"intro", "intro-2", "intro-3", "intro-4"}, "intro-5"),
        ({"intro", "intro-3"}, "intro-2"),
        ({"intro-2", "intro-3"}, "intro"),
    ],
)
def test_unique_slug_adds_the_first_free_number(taken: set[str], expected: str) -> None:
    assert unique_slug("intro", taken) == expected


def test_unique_slug_works_under_a_prefix() -> None:
    assert unique_slug("sales/intro", {"sales/intro", "intro"}) == "sales/intro-2"


SLUG_PARTS = st.text(alphabet="abc-/2", min_size=1, max_size=6)


@given(base=SLUG_PARTS, numbers=st.sets(st.integers(2, 12)), others=st.sets(SLUG_PARTS), base_taken=st.booleans())
def test_unique_slug_is_never_taken_and_starts_with_the_base(
    base: str, numbers: set[int], others: set[str], base_taken: bool
) -> None:
    # given
    taken = others | {f"{base}-{n}" for n in numbers} | ({base} if base_taken else set())

    # when
    slug = unique_slug(base, taken)

    # then
    assert slug not in taken
    assert slug.startswith(base)
    if slug != base:
        n = int(slug.removeprefix(f"{base}-"))
        assert base in taken
        assert all(f"{base}-{k}" in taken for k in range(2, n))


# --- page fields --------------------------------------------------------------------------------


def test_a_new_page_gets_the_defaults() -> None:
    # when
    fields = fields_for(PageInput(name="  Intro call "))

    # then
    assert fields == PageFields(
        name="Intro call",
        duration_minutes=DEFAULT_DURATION,
        timezone=BERLIN,
        weekly_hours=NINE_TO_FIVE_WEEKDAYS,
        buffer_minutes=0,
        minimum_notice_minutes=0,
    )


def test_nulls_mean_the_defaults() -> None:
    # given
    data = PageInput(
        name="Intro", duration_minutes=None, timezone=None, buffer_minutes=None, minimum_notice_minutes=None
    )

    # when
    fields = fields_for(data)

    # then
    assert (fields.duration_minutes, fields.timezone, fields.buffer_minutes, fields.minimum_notice_minutes) == (
        DEFAULT_DURATION,
        BERLIN,
        0,
        0,
    )


def test_given_fields_are_kept() -> None:
    # given
    data = PageInput(
        name="Demo",
        duration_minutes=60,
        timezone="America/New_York",
        weekly_hours=[(5, "13:00", "24:00"), (2, "08:30", "12:00")],
        buffer_minutes=15,
        minimum_notice_minutes=1440,
    )

    # when
    fields = fields_for(data)

    # then
    assert fields == PageFields(
        name="Demo",
        duration_minutes=60,
        timezone="America/New_York",
        weekly_hours=[
            {"weekday": 2, "start": "08:30", "end": "12:00"},
            {"weekday": 5, "start": "13:00", "end": "24:00"},
        ],
        buffer_minutes=15,
        minimum_notice_minutes=1440,
    )


def test_omitted_weekly_hours_keep_the_current_ones() -> None:
    assert fields_for(PageInput(name="Intro"), current_hours=SATURDAY_MORNINGS).weekly_hours == SATURDAY_MORNINGS


def test_given_weekly_hours_replace_the_current_ones() -> None:
    # when
    fields = fields_for(PageInput(name="Intro", weekly_hours=[(1, "10:00", "11:00")]), SATURDAY_MORNINGS)

    # then
    assert fields.weekly_hours == [{"weekday": 1, "start": "10:00", "end": "11:00"}]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"duration_minutes": 4}, "durationMinutes"),
        ({"duration_minutes": 0}, "durationMinutes"),
        ({"duration_minutes": 721}, "durationMinutes"),
        ({"buffer_minutes": -1}, "bufferMinutes"),
        ({"buffer_minutes": MAX_BUFFER + 1}, "bufferMinutes"),
        ({"minimum_notice_minutes": -1}, "minimumNoticeMinutes"),
        ({"minimum_notice_minutes": MAX_NOTICE + 1}, "minimumNoticeMinutes"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "europe/berlin"}, "timezone"),
    ],
)
def test_each_out_of_range_field_is_named(changes: dict[str, Any], field: str) -> None:
    assert error_field(replace(PageInput(name="Intro"), **changes)) == field


@pytest.mark.parametrize(
    ("changes", "attribute", "value"),
    [
        ({"duration_minutes": 5}, "duration_minutes", 5),
        ({"duration_minutes": 720}, "duration_minutes", MAX_DURATION),
        ({"buffer_minutes": MAX_BUFFER}, "buffer_minutes", 1440),
        ({"minimum_notice_minutes": MAX_NOTICE}, "minimum_notice_minutes", 60 * 24 * 60),
        ({"name": "x" * 200}, "name", "x" * 200),
    ],
)
def test_values_at_the_bounds_are_accepted(changes: dict[str, Any], attribute: str, value: object) -> None:
    assert getattr(fields_for(replace(PageInput(name="Intro"), **changes)), attribute) == value


def test_an_unknown_default_timezone_is_refused_when_none_is_given() -> None:
    assert error_field(PageInput(name="Intro"), default_timezone="Nowhere/Land") == "timezone"


def test_a_given_timezone_wins_over_an_unknown_default() -> None:
    # when
    fields = page_fields(PageInput(name="Intro", timezone="UTC"), default_timezone="Nowhere/Land", current_hours=[])

    # then
    assert fields.timezone == "UTC"


@pytest.mark.parametrize(
    ("hours", "field"),
    [
        ([(1, "09:00", "12:00"), (1, "11:00", "13:00")], "weeklyHours[1].start"),
        ([(1, "11:00", "13:00"), (2, "09:00", "10:00"), (1, "09:00", "12:00")], "weeklyHours[0].start"),
        ([(1, "9:00", "12:00")], "weeklyHours[0].start"),
        ([(1, "09:00", "24:01")], "weeklyHours[0].end"),
        ([(1, "12:00", "09:00")], "weeklyHours[0].end"),
        ([(2, "09:00", "10:00"), (8, "09:00", "10:00")], "weeklyHours[1].weekday"),
        ([(0, "09:00", "10:00")], "weeklyHours[0].weekday"),
    ],
    ids=["overlap", "overlap-unsorted", "start-format", "end-format", "end-before-start", "weekday-8", "weekday-0"],
)
def test_invalid_weekly_hours_name_the_offending_entry(hours: list[tuple[int, str, str]], field: str) -> None:
    assert error_field(PageInput(name="Intro", weekly_hours=hours)) == field
