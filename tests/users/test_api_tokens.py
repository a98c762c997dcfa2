"""apiTokens, createApiToken and revokeApiToken: revoked tokens stop working at once; lastUsedAt costs no write
per request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import func, select

from db.models import ApiToken
from meetgraph.context import LAST_USED_PRECISION
from meetgraph.services import Services
from tests.utils.clock import FakeClock
from tests.utils.graphql import GraphQLClient, iso
from tests.utils.user import ADMIN_TOKEN, ME, create_user, me

API_TOKENS = "{ me { apiTokens { id name createdAt lastUsedAt } } }"

CREATE_API_TOKEN = """mutation($name: String!) { createApiToken(name: $name) {
  __typename
  ... on CreateApiTokenSuccess { token apiToken { id name createdAt lastUsedAt } }
  ... on ValidationError { message field } } }"""

REVOKE_API_TOKEN = """mutation($id: ID!) { revokeApiToken(id: $id) {
  __typename ... on DisconnectSuccess { id } ... on Error { message } } }"""


async def _tokens(gql: GraphQLClient, token: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await gql(API_TOKENS, token=token))["me"]["apiTokens"]
    return found


async def _create_token(gql: GraphQLClient, token: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = (await gql(CREATE_API_TOKEN, {"name": name}, token))["createApiToken"]
    return result


async def _revoke(gql: GraphQLClient, token: str, token_id: str) -> dict[str, Any]:
    result: dict[str, Any] = (await gql(REVOKE_API_TOKEN, {"id": token_id}, token))["revokeApiToken"]
    return result


async def _count(services: Services) -> int:
    async with services.sessionmaker() as session:
        return int((await session.exec(select(func.count()).select_from(ApiToken))).one())


def _unauthenticated(body: dict[str, Any]) -> bool:
    return [e["extensions"]["code"] for e in body.get("errors", [])] == ["UNAUTHENTICATED"]


@contextmanager
def _token_writes(services: Services) -> Iterator[list[str]]:
    """The UPDATE statements on api_tokens the app sends meanwhile."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE API_TOKENS"):
            seen.append(statement)

    event.listen(services.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(services.engine.sync_engine, "before_cursor_execute", record)


async def test_created_token_is_shown_once_listed_by_name_and_authenticates(
    gql: GraphQLClient, clock: FakeClock
) -> None:
    # given
    _, first = await create_user(gql, "ada@example.com")
    # when
    created = await _create_token(gql, first, "  laptop  ")
    # then
    assert created["__typename"] == "CreateApiTokenSuccess"
    assert created["apiToken"]["name"] == "laptop" and created["apiToken"]["createdAt"] == iso(clock())
    assert created["apiToken"]["lastUsedAt"] is None
    assert (await me(gql, created["token"]))["email"] == "ada@example.com"
    listed = await _tokens(gql, first)
    assert sorted(t["name"] for t in listed) == ["initial", "laptop"]
    assert created["token"] not in str(listed)


@pytest.mark.parametrize(
    ("name", "why"),
    [("", "empty"), ("   ", "blank"), ("x" * 101, "too long"), ("initial", "createUser's"), ("Initial", "reserved")],
)
async def test_a_bad_name_is_a_validation_error_and_writes_nothing(
    gql: GraphQLClient, services: Services, name: str, why: str
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    # when
    result = await _create_token(gql, token, name)
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == "name", why
    assert await _count(services) == 1


async def test_a_name_of_a_hundred_characters_is_accepted(gql: GraphQLClient) -> None:
    _, token = await create_user(gql, "ada@example.com")
    assert (await _create_token(gql, token, "x" * 100))["__typename"] == "CreateApiTokenSuccess"


async def test_tokens_need_a_signed_in_user(gql: GraphQLClient, services: Services) -> None:
    # when
    anonymous = await gql.raw(CREATE_API_TOKEN, {"name": "laptop"})
    admin = await gql.raw(CREATE_API_TOKEN, {"name": "laptop"}, ADMIN_TOKEN)
    # then
    assert _unauthenticated(anonymous) and _unauthenticated(admin)
    assert await _count(services) == 0


async def test_a_revoked_token_stops_working_at_once_and_the_others_keep_working(gql: GraphQLClient) -> None:
    # given
    _, first = await create_user(gql, "ada@example.com")
    second = await _create_token(gql, first, "laptop")
    assert (await me(gql, second["token"]))["email"] == "ada@example.com"
    # when
    revoked = await _revoke(gql, first, second["apiToken"]["id"])
    # then
    assert revoked == {"__typename": "DisconnectSuccess", "id": second["apiToken"]["id"]}
    assert _unauthenticated(await gql.raw(ME, token=second["token"]))
    assert [t["name"] for t in await _tokens(gql, first)] == ["initial"]


async def test_the_token_in_use_can_revoke_itself(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    [own] = await _tokens(gql, token)
    # when
    revoked = await _revoke(gql, token, own["id"])
    # then
    assert revoked["__typename"] == "DisconnectSuccess"
    assert _unauthenticated(await gql.raw(ME, token=token))


async def test_another_users_token_and_unknown_ids_are_not_found_alike(gql: GraphQLClient, services: Services) -> None:
    # given
    _, ada = await create_user(gql, "ada@example.com")
    _, bob = await create_user(gql, "bob@example.com")
    [bobs] = await _tokens(gql, bob)
    # when
    answers = [
        await _revoke(gql, ada, token_id)
        for token_id in (bobs["id"], "00000000-0000-0000-0000-000000000000", "not-an-id")
    ]
    # then
    assert len({(a["__typename"], a["message"]) for a in answers}) == 1
    assert answers[0]["__typename"] == "NotFoundError"
    assert (await me(gql, bob))["email"] == "bob@example.com"
    assert await _count(services) == 2


async def test_last_used_at_is_kept_to_the_precision_without_a_write_per_request(
    gql: GraphQLClient, services: Services, clock: FakeClock
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    created_at = clock()
    # when: the first use, then requests within the precision
    with _token_writes(services) as writes:
        for _ in range(3):
            await me(gql, token)
            clock.advance(seconds=LAST_USED_PRECISION.total_seconds() / 4)
        within = (await _tokens(gql, token))[0]["lastUsedAt"]
    # then
    assert within == iso(created_at) and len(writes) == 1
    # when: a request once the stored value is older than the precision
    clock.advance(seconds=LAST_USED_PRECISION.total_seconds())
    with _token_writes(services) as writes:
        later = (await _tokens(gql, token))[0]["lastUsedAt"]
    # then
    assert later == iso(clock()) and len(writes) == 1
