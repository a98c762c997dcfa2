"""The one free/busy rule: free and working elsewhere are free; tentative, busy, out of office and anything else
block, whatever the spelling's case."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduling.free_busy import FREE_STATUSES, blocks_time


@pytest.mark.parametrize(
    "status",
    ["free", "Free", "FREE", "workingElsewhere", "WorkingElsewhere", "workingelsewhere", " Free "],
)
def test_free_and_working_elsewhere_leave_time_free(status: str) -> None:
    assert not blocks_time(status)


@pytest.mark.parametrize(
    "status",
    ["tentative", "Tentative", "busy", "Busy", "oof", "OOF", "Oof"],
)
def test_tentative_busy_and_out_of_office_block(status: str) -> None:
    assert blocks_time(status)


@pytest.mark.parametrize("status", [None, "", "unknown", "Unknown", "NoData", "elsewhere", "freeish"])
def test_a_missing_or_unknown_status_blocks(status: str | None) -> None:
    assert blocks_time(status)


def random_case(word: str) -> st.SearchStrategy[str]:
    """`word` with each letter upper or lower case."""
    return st.tuples(*(st.sampled_from([c.lower(), c.upper()]) for c in word)).map("".join)


@given(st.sampled_from(["free", "workingElsewhere", "tentative", "busy", "oof"]).flatmap(random_case))
def test_case_never_changes_the_answer(status: str) -> None:
    assert blocks_time(status) == blocks_time(status.lower()) == (status.lower() not in FREE_STATUSES)


@given(st.text())
def test_only_the_two_free_statuses_leave_time_free(status: str) -> None:
    assert blocks_time(status) == (status.strip().lower() not in {"free", "workingelsewhere"})
