"""createUser never loses the token it made: its payload resolves every field of the new user for the admin,
and when an answer is lost anyway, the same creation asked again hands out a new token for the unused one."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import func, select

from db.models import ApiToken, User
from meetgraph.services import Services
from resolvers.users import RETRY_WINDOW
from tests.utils.clock import FakeClock
from tests.utils.graphql import GraphQLClient
from tests.utils.user import ADMIN_TOKEN, CREATE_USER, create_user, me

NESTED = """mutation($input: CreateUserInput!) { createUser(input: $input) {
  __typename
  ... on CreateUserSuccess { token user { id domains { id hostname } calendarSettings { pagesActive
    meetingDomain { id } availabilityCalendars { id } } schedulingPages { id } meetings { id }
    bookingAttempts { id } tasks { id } calendarConnections { id } emailInboxes { id } } }
  ... on Error { message } } }"""
"""The selection that answered `data: null` (the user made, its token lost) before the payload resolved for the admin."""

TYPE_FIELDS = """query($name: String!) { __type(name: $name) { fields {
  name args { name defaultValue type { kind } }
  type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }"""

LEAVES = {"SCALAR", "ENUM"}


def _named(type_ref: dict[str, Any]) -> dict[str, Any]:
    while type_ref.get("ofType"):
        type_ref = type_ref["ofType"]
    return type_ref


async def _selection(gql: GraphQLClient, type_name: str, depth: int) -> str:
    """Every field of the type that needs no argument, objects `depth` levels down (then only __typename)."""
    fields = (await gql(TYPE_FIELDS, {"name": type_name}, ADMIN_TOKEN))["__type"]["fields"]
    parts = ["__typename"]
    for field in fields:
        if any(arg["type"]["kind"] == "NON_NULL" and arg["defaultValue"] is None for arg in field["args"]):
            continue
        named = _named(field["type"])
        if named["kind"] in LEAVES:
            parts.append(field["name"])
        elif depth > 0 and named["kind"] == "OBJECT":
            parts.append(f"{field['name']} {{ {await _selection(gql, named['name'], depth - 1)} }}")
        else:
            parts.append(f"{field['name']} {{ __typename }}")
    return " ".join(parts)


async def _tokens(services: Services) -> list[ApiToken]:
    async with services.sessionmaker() as session:
        return list((await session.exec(select(ApiToken))).all())


async def _users(services: Services) -> int:
    async with services.sessionmaker() as session:
        return int((await session.exec(select(func.count()).select_from(User))).one())


async def test_the_payload_resolves_the_new_users_nested_fields_for_the_admin(gql: GraphQLClient) -> None:
    # when
    body = await gql.raw(NESTED, {"input": {"email": "ada@example.com", "name": "Ada"}}, ADMIN_TOKEN)
    # then
    assert "errors" not in body, body
    result = body["data"]["createUser"]
    assert result["user"]["domains"] == [] and result["user"]["calendarSettings"]["pagesActive"] is True
    assert (await me(gql, result["token"]))["id"] == result["user"]["id"]


async def test_every_field_of_the_new_user_resolves_in_the_payload(gql: GraphQLClient) -> None:
    # given: every field of User (and of what it holds, two levels down), as the schema lists them today
    selection = await _selection(gql, "User", depth=2)
    query = f"""mutation($input: CreateUserInput!) {{ createUser(input: $input) {{
      ... on CreateUserSuccess {{ token user {{ {selection} }} }} }} }}"""
    # when
    body = await gql.raw(query, {"input": {"email": "ada@example.com", "name": "Ada"}}, ADMIN_TOKEN)
    # then
    assert "errors" not in body, body
    assert body["data"]["createUser"]["user"]["apiTokens"][0]["name"] == "initial"
    assert body["data"]["createUser"]["token"].startswith("mg_")


async def test_an_answer_lost_after_the_commit_is_recovered_by_asking_again(
    gql: GraphQLClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a failure after the commit eats the answer (the user is made, the token unseen)
    async def broken(*_: object) -> None:
        raise RuntimeError("payload failed")

    with monkeypatch.context() as patch:
        patch.setattr("resolvers.settings.settings_for", broken)
        lost = await gql.raw(NESTED, {"input": {"email": "ada@example.com", "name": "Ada"}}, ADMIN_TOKEN)
    assert lost["data"] is None and await _users(services) == 1
    [unseen] = await _tokens(services)
    # when
    again = await gql.raw(NESTED, {"input": {"email": "ada@example.com", "name": "Ada"}}, ADMIN_TOKEN)
    # then
    result = again["data"]["createUser"]
    assert result["__typename"] == "CreateUserSuccess"
    assert (await me(gql, result["token"]))["email"] == "ada@example.com"
    [renewed] = await _tokens(services)
    assert renewed.id != unseen.id and renewed.name == "initial"
    assert await _users(services) == 1


async def test_once_the_token_was_used_the_same_creation_is_refused(gql: GraphQLClient, services: Services) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com", "Ada")
    await me(gql, token)
    # when
    data = await gql(CREATE_USER, {"input": {"email": "ada@example.com", "name": "Ada"}}, ADMIN_TOKEN)
    # then
    assert data["createUser"]["__typename"] == "ValidationError" and data["createUser"]["field"] == "email"
    assert (await me(gql, token))["email"] == "ada@example.com"
    assert len(await _tokens(services)) == 1


@pytest.mark.parametrize(
    "changed",
    [{"name": "Someone Else"}, {"timezone": "Europe/Berlin"}, {"tier": "PROFESSIONAL"}, {"paidSeat": True}],
)
async def test_a_different_creation_for_a_taken_email_is_refused(
    gql: GraphQLClient, services: Services, changed: dict[str, Any]
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com", "Ada")
    # when
    data = await gql(CREATE_USER, {"input": {"email": "ada@example.com", "name": "Ada", **changed}}, ADMIN_TOKEN)
    # then
    assert data["createUser"]["__typename"] == "ValidationError" and data["createUser"]["field"] == "email"
    assert (await me(gql, token))["email"] == "ada@example.com"


async def test_the_same_creation_after_the_retry_window_is_refused(
    gql: GraphQLClient, services: Services, clock: FakeClock
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com", "Ada")
    clock.advance(seconds=RETRY_WINDOW.total_seconds() + 1)
    # when
    data = await gql(CREATE_USER, {"input": {"email": "ada@example.com", "name": "Ada"}}, ADMIN_TOKEN)
    # then
    assert data["createUser"]["__typename"] == "ValidationError"
    assert (await me(gql, token))["email"] == "ada@example.com"


async def test_a_user_who_made_tokens_of_their_own_is_never_answered_again(
    gql: GraphQLClient, services: Services
) -> None:
    # given: ada used her first token to make a second, then revoked the first: her one token is unused
    _, first = await create_user(gql, "ada@example.com", "Ada")
    made = await gql(
        'mutation { createApiToken(name: "laptop") { ... on CreateApiTokenSuccess { token } } }', token=first
    )
    second = made["createApiToken"]["token"]
    listed = (await gql("{ me { apiTokens { id name } } }", token=first))["me"]["apiTokens"]
    [first_id] = [t["id"] for t in listed if t["name"] == "initial"]
    await gql("mutation($id: ID!) { revokeApiToken(id: $id) { __typename } }", {"id": first_id}, first)
    # when
    data = await gql(CREATE_USER, {"input": {"email": "ada@example.com", "name": "Ada"}}, ADMIN_TOKEN)
    # then
    assert data["createUser"]["__typename"] == "ValidationError"
    assert len(await _tokens(services)) == 1
    assert (await me(gql, second))["email"] == "ada@example.com"
