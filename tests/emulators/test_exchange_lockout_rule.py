"""Active Directory's account lockout as EmulatedAccount.record_login counts it (pure logic, on given times)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from emulators.state import EmulatedAccount

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=10)
gaps_within_window = st.lists(st.integers(min_value=0, max_value=599), min_size=1, max_size=12)


def account(threshold: int) -> EmulatedAccount:
    return EmulatedAccount(email="owner@exchange.test", name="Owner", password="pw", lockout_threshold=threshold)


@given(threshold=st.integers(min_value=1, max_value=8), gaps=gaps_within_window)
def test_threshold_bad_passwords_within_the_window_lock_until_the_duration_passes(
    threshold: int, gaps: list[int]
) -> None:
    # given: `threshold` bad passwords, each less than the window after the previous one
    user, now = account(threshold), T0
    for gap in (gaps * threshold)[:threshold]:
        now += timedelta(seconds=gap)
        assert user.record_login(False, now) is False
    # then: locked; the right password is refused (and counted) until the duration has passed
    assert user.record_login(True, now + user.lockout_duration - timedelta(seconds=1)) is False
    assert user.refused_logins == threshold + 1
    assert user.record_login(True, now + user.lockout_duration) is True


@given(threshold=st.integers(min_value=2, max_value=8), attempts=st.integers(min_value=1, max_value=30))
def test_bad_passwords_a_window_apart_never_lock(threshold: int, attempts: int) -> None:
    # given
    user = account(threshold)
    for n in range(attempts):
        user.record_login(False, T0 + n * WINDOW)
    # then
    assert user.record_login(True, T0 + attempts * WINDOW) is True


@given(runs=st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=10))
def test_a_right_password_before_the_threshold_starts_the_count_again(runs: list[int]) -> None:
    # given: runs of fewer than 5 bad passwords, each followed by the right one, all within a minute
    user, now = account(5), T0
    for bad in runs:
        for _ in range(bad):
            now += timedelta(seconds=1)
            user.record_login(False, now)
        now += timedelta(seconds=1)
        # then
        assert user.record_login(True, now) is True


def test_a_threshold_of_zero_never_locks() -> None:
    user = account(0)
    for n in range(100):
        user.record_login(False, T0 + timedelta(seconds=n))
    assert user.record_login(True, T0 + timedelta(seconds=100)) is True
