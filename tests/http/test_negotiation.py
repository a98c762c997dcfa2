"""The Accept header's media ranges pick the response media type (RFC 9110 §12.5.1 qualities)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meetgraph.http import ACCEPTED, GRAPHQL_RESPONSE_JSON, JSON, negotiate


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        ("application/json", JSON),
        ("APPLICATION/JSON", JSON),
        ("application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("application/json, application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json;q=0.9, application/json", JSON),
        ("application/graphql-response+json, */*;q=0.1", GRAPHQL_RESPONSE_JSON),
        ("application/json;q=0.2, */*;q=0.5", GRAPHQL_RESPONSE_JSON),
        ("*/*, application/json;q=0", GRAPHQL_RESPONSE_JSON),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", JSON),
        ("application/json;q=nonsense, application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("text/html", None),
        ("text/*, image/png", None),
        ("application/json;q=0", None),
        ("nonsense", None),
    ],
)
def test_examples(accept: str | None, chosen: str | None) -> None:
    assert negotiate(accept) == chosen


media_ranges = st.sampled_from([*ACCEPTED, "*/*", "application/*", "text/html", "text/*", "application/xml"])
qualities = st.sampled_from(["", ";q=0", ";q=0.0", ";q=0.3", ";q=1", ";q=1.0", ";q=bogus", ";q=7"])


@given(st.lists(st.tuples(media_ranges, qualities), max_size=6))
def test_the_choice_is_acceptable_and_refused_types_are_never_chosen(ranges: list[tuple[str, str]]) -> None:
    # given
    accept = ", ".join(media_range + quality for media_range, quality in ranges)
    # when
    chosen = negotiate(accept)
    # then
    refused = {r for r, q in ranges if q in (";q=0", ";q=0.0")} - {r for r, q in ranges if q not in (";q=0", ";q=0.0")}
    assert chosen is None or chosen in ACCEPTED
    assert chosen not in refused


@given(st.text(max_size=60))
def test_any_header_gets_an_answer_or_406(accept: str) -> None:
    assert negotiate(accept) in (*ACCEPTED, None)
