"""MEETGRAPH_GRAPHIQL=false: anonymous callers may not introspect; users and the admin may (codegen)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from graphql import get_introspection_query

from meetgraph.app import create_app
from meetgraph.services import Services
from tests.utils.graphql import GraphQLClient
from tests.utils.user import ADMIN_TOKEN, create_user

INTROSPECTION = get_introspection_query(descriptions=True)
TYPE_OF_USER = '{ __type(name: "User") { name } }'
IN_A_FRAGMENT = "query { ...Root } fragment Root on Query { __schema { queryType { name } } }"
TYPENAME = "{ __typename }"
REFUSED = {"code": "GRAPHQL_VALIDATION_FAILED", "validationErrorCode": "INTROSPECTION_DISABLED"}


@pytest.fixture
async def production(services: Services) -> AsyncIterator[GraphQLClient]:
    """The app as deployed with MEETGRAPH_GRAPHIQL=false."""
    services.settings.graphiql = False
    app = create_app(services.settings, services=services, migrate=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield GraphQLClient(http)


@pytest.mark.parametrize("query", [INTROSPECTION, TYPE_OF_USER, IN_A_FRAGMENT])
async def test_anonymous_callers_may_not_introspect(production: GraphQLClient, query: str) -> None:
    # when
    body = await production.raw(query)
    # then
    assert body.get("data") is None
    assert body["errors"] and all(error["extensions"] == REFUSED for error in body["errors"]), body


async def test_signed_in_callers_and_the_admin_may_and_the_answers_are_not_mixed_up(
    production: GraphQLClient,
) -> None:
    # given
    _, token = await create_user(production, "ada@example.com")
    # when: the same document, so a validation cache keyed on the document alone would mix the answers
    user = await production.raw(INTROSPECTION, token=token)
    anonymous = await production.raw(INTROSPECTION)
    admin = await production.raw(INTROSPECTION, token=ADMIN_TOKEN)
    unknown_token = await production.raw(INTROSPECTION, token="mg_not-a-token")
    # then
    assert user["data"]["__schema"]["queryType"]["name"] == "Query"
    assert admin["data"]["__schema"]["queryType"]["name"] == "Query"
    assert anonymous["errors"][0]["extensions"] == REFUSED
    assert unknown_token["errors"][0]["extensions"] == REFUSED


async def test_typename_stays_allowed(production: GraphQLClient) -> None:
    assert await production.raw(TYPENAME) == {"data": {"__typename": "Query"}}


async def test_with_graphiql_on_anyone_may_introspect(gql: GraphQLClient) -> None:
    body = await gql.raw(TYPE_OF_USER)
    assert body == {"data": {"__type": {"name": "User"}}}
