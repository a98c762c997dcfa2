"""Generated operations (hypothesis-graphql) against the live schema, sent by a signed-in user with a
connected calendar and a page: whatever they hold, no answer is "Unexpected error." / INTERNAL_SERVER_ERROR.

Deterministic (derandomized) and modest in size: it runs in CI on two cores."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import from_schema, nodes

from schema import build_schema
from tests.utils.connection import calendar_ids, connect
from tests.utils.emulators import World
from tests.utils.graphql import GraphQLClient, internal_errors
from tests.utils.page import create_page
from tests.utils.user import create_user

EXAMPLES = 400

LEFT_OUT = frozenset({"connectExchangeCalendar", "verifyDomain"})
"""Root fields that reach out to hosts the input names (EWS, DNS): their inputs are tested on their own."""

T = TypeVar("T")

OFFSETS = st.one_of(
    st.just(UTC), st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
)
DATE_TIMES = st.one_of(
    st.datetimes(timezones=OFFSETS),
    st.datetimes(min_value=datetime(2026, 11, 1), max_value=datetime(2027, 3, 1), timezones=OFFSETS),
    st.sampled_from([datetime.min, datetime.max]).flatmap(lambda d: OFFSETS.map(lambda z: d.replace(tzinfo=z))),
).map(lambda moment: nodes.String(moment.isoformat()))
"""Any instant Python can write (years 1 to 9999), many near the test's clock, and the very edges."""


def root_fields() -> list[str]:
    schema = build_schema()._schema
    roots = [schema.query_type, schema.mutation_type]
    return sorted(name for root in roots if root is not None for name in root.fields if name not in LEFT_OUT)


PLAUSIBLE_STRINGS = [
    "intro",
    "ada@example.com",
    "carla@example.com",
    "Carla",
    "Europe/Berlin",
    "Europe",
    "UTC",
    "09:00",
    "24:00",
    "meet.example.test",
    "a" * 100 + "/" + "b" * 100,
]
"""Values that pass the first checks (an email, the page's slug, a zone), so later ones are reached too."""


def operations(known_ids: list[str]) -> st.SearchStrategy[str]:
    """One root field per operation, each field as likely as any other (a failing sibling hides nothing);
    strings and ids are often plausible or the ids of the user's own rows."""
    sdl = build_schema().as_str()
    scalars = {
        "DateTime": DATE_TIMES,
        "String": st.one_of(st.sampled_from(PLAUSIBLE_STRINGS), st.text(max_size=20)).map(nodes.String),
        "ID": st.one_of(st.sampled_from(known_ids), st.uuids().map(str), st.text(max_size=8)).map(nodes.String),
    }
    return st.sampled_from(root_fields()).flatmap(
        lambda name: from_schema(sdl, fields=[name], custom_scalars=scalars)  # type: ignore[arg-type]
    )


async def test_no_generated_operation_answers_an_internal_error(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given: a user with something to act on
    _, token = await create_user(gql, "ada@example.com")
    await connect(gql, http, token, "GOOGLE")
    page = await create_page(gql, token, slug="intro")
    known_ids = [page["id"], *(await calendar_ids(gql, token)).values()]
    loop = asyncio.get_running_loop()

    def run(coroutine: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """From hypothesis's thread, on the test's event loop (where the app and its database live)."""
        return asyncio.run_coroutine_threadsafe(coroutine(), loop).result()

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(operations(known_ids))
    def send(query: str) -> None:
        body = run(lambda: gql.raw(query, token=token))
        assert internal_errors(body) == [], (query, body)

    # when / then: every example is sent, and hypothesis shrinks the first failing one
    await asyncio.to_thread(send)
