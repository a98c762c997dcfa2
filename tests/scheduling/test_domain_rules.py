"""Custom domains: which host names may be claimed, and when a DNS answer verifies one."""

from __future__ import annotations

import ipaddress
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduling import domain_rules
from scheduling.domain_rules import (
    MAX_HOSTNAME,
    REFUSED,
    LookupStatus,
    TxtLookup,
    check_verification,
    claimable_hostname,
    is_reserved,
    record_name,
    record_value,
)
from scheduling.errors import DomainUnverified, InvalidInput

OWN_HOST = "meetgraph.example.com"
TOKEN = "tok-123"

# --- which names may be claimed -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_name", "claimed"),
    [
        ("meet.example.com", "meet.example.com"),
        ("MEET.Example.COM.", "meet.example.com"),
        ("  book.ada.test ", "book.ada.test"),
        ("pages.example", "pages.example"),
        ("google.com", "google.com"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("sub.meetgraph.example.com", "sub.meetgraph.example.com"),
        ("local.example.com", "local.example.com"),
        ("internal.example.org", "internal.example.org"),
    ],
)
def test_public_names_and_test_names_are_claimable(given_name: str, claimed: str) -> None:
    assert claimable_hostname(given_name, own_host=OWN_HOST) == claimed


@pytest.mark.parametrize(
    "name",
    [
        "localhost",
        "LOCALHOST.",
        "app.localhost",
        "printer.local",
        "metadata.google.internal",
        "1.0.0.127.in-addr.arpa",
        "router.home.arpa",
        "nothing.invalid",
        "127.0.0.1",
        "169.254.169.254",
        "10.0.0.1",
        "::1",
        "[::1]",
        "fe80::1%eth0",
        "[2001:db8::1]",
        "intranet",
        "meetgraph.example.com",
        "MEETGRAPH.example.com.",
    ],
)
def test_reserved_names_get_the_one_refusal(name: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        claimable_hostname(name, own_host=OWN_HOST)
    assert (refused.value.message, refused.value.field) == (REFUSED, "hostname")


@pytest.mark.parametrize(
    "name", ["", "not a host", "https://meet.example.com", "meet.example.com/path", "meet_.example.com", "-a.example"]
)
def test_malformed_names_are_validation_errors(name: str) -> None:
    with pytest.raises(InvalidInput) as error:
        claimable_hostname(name, own_host=OWN_HOST)
    assert error.value.field == "hostname"


def test_a_name_too_long_for_its_record_is_refused_by_length() -> None:
    longest = ".".join(["a" * 60] * 4)[: MAX_HOSTNAME - len(".example")] + ".example"
    assert len(longest) == MAX_HOSTNAME
    assert claimable_hostname(longest, own_host=OWN_HOST) == longest
    with pytest.raises(InvalidInput) as error:
        claimable_hostname("a" + longest, own_host=OWN_HOST)
    assert error.value.message != REFUSED and str(MAX_HOSTNAME) in error.value.message


def test_the_field_name_is_the_callers() -> None:
    with pytest.raises(InvalidInput) as error:
        claimable_hostname("localhost", own_host=OWN_HOST, field="domainId")
    assert error.value.field == "domainId"


LABEL = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=20)
NAMES = st.lists(LABEL, min_size=2, max_size=5).map(".".join)


@given(st.ip_addresses())
def test_every_ip_literal_is_refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    spellings = [str(address)] + ([f"[{address}]"] if address.version == 6 else [])
    for spelling in spellings:
        with pytest.raises(InvalidInput) as refused:
            claimable_hostname(spelling, own_host=OWN_HOST)
        assert refused.value.message == REFUSED


@given(NAMES, st.sampled_from(domain_rules.RESERVED_SUFFIXES))
def test_every_name_under_a_reserved_suffix_is_refused(name: str, suffix: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        claimable_hostname(f"{name}.{suffix}", own_host=OWN_HOST)
    assert refused.value.message == REFUSED


@given(NAMES, st.sampled_from(["test", "example", "com", "org", "dev"]))
def test_names_under_public_and_test_suffixes_are_claimed_as_normalized(name: str, suffix: str) -> None:
    host = f"{name}.{suffix}"
    assert claimable_hostname(f" {host.upper()}. ", own_host=OWN_HOST) == host
    assert not is_reserved(host, own_host=OWN_HOST)


@given(NAMES, st.sampled_from(["test", "example", "com"]))
def test_the_apps_own_host_is_refused_whatever_it_is(name: str, suffix: str) -> None:
    host = f"{name}.{suffix}"
    with pytest.raises(InvalidInput) as refused:
        claimable_hostname(host.upper() + ".", own_host=host)
    assert refused.value.message == REFUSED


# --- verification ---------------------------------------------------------------------------------


def test_the_record_lives_under_the_meetgraph_label() -> None:
    assert record_name("meet.example.com") == "_meetgraph.meet.example.com"
    assert record_value(TOKEN) == "meetgraph-verification=tok-123"


@pytest.mark.parametrize(
    "values",
    [
        ["meetgraph-verification=tok-123"],
        ["v=spf1 -all", "meetgraph-verification=tok-123"],
        [" meetgraph-verification=tok-123 "],
    ],
)
def test_the_exact_value_among_the_records_verifies(values: list[str]) -> None:
    check_verification("meet.example.com", TOKEN, TxtLookup(LookupStatus.FOUND, values))


@pytest.mark.parametrize(
    ("lookup", "says"),
    [
        (TxtLookup(LookupStatus.FOUND, ["meetgraph-verification=tok-12"]), "do not hold"),
        (TxtLookup(LookupStatus.FOUND, ["meetgraph-verification=TOK-123"]), "do not hold"),
        (TxtLookup(LookupStatus.FOUND, ["tok-123"]), "do not hold"),
        (TxtLookup(LookupStatus.NO_SUCH_NAME), "no TXT record"),
        (TxtLookup(LookupStatus.NO_RECORD), "no TXT record"),
        (TxtLookup(LookupStatus.TIMEOUT), "timed out"),
        (TxtLookup(LookupStatus.FAILURE, detail="SERVFAIL"), "SERVFAIL"),
    ],
)
def test_every_other_answer_says_what_to_publish_where(lookup: TxtLookup, says: str) -> None:
    with pytest.raises(DomainUnverified) as failed:
        check_verification("meet.example.com", TOKEN, lookup)
    assert says in failed.value.message
    assert "_meetgraph.meet.example.com" in failed.value.message
    assert '"meetgraph-verification=tok-123"' in failed.value.message


@given(st.lists(st.text(max_size=100), max_size=6), st.text(string.ascii_letters + string.digits + "-_", min_size=1))
def test_verified_exactly_when_one_record_is_the_value(values: list[str], token: str) -> None:
    lookup = TxtLookup(LookupStatus.FOUND, values)
    expected = any(v.strip() == record_value(token) for v in values)
    try:
        check_verification("meet.example.com", token, lookup)
    except DomainUnverified:
        assert not expected
    else:
        assert expected
