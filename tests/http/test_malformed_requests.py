"""Requests that are not well-formed GraphQL-over-HTTP get a 4xx with a JSON error body, never text/plain."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.utils.graphql import GraphQLClient
from tests.utils.user import ADMIN_TOKEN, CREATE_USER

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def error_of(response: httpx.Response, status: int, code: str, media_type: str = JSON) -> dict[str, Any]:
    """The single error of a JSON error answer, after checking its status, media type and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == f"{media_type}; charset=utf-8"
    body: dict[str, Any] = response.json()
    assert list(body) == ["errors"] and len(body["errors"]) == 1, body
    error: dict[str, Any] = body["errors"][0]
    assert error["extensions"]["code"] == code and error["message"], body
    return error


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "{ __typename }"',
        b"NONSENSE",
        b"",
        b'{"query": "\xff\xfe"}',
        b'"{ __typename }"',
        b"42",
        b"null",
        b'[{"query": "{ __typename }"}]',
        b'{"qeury": "{ __typename }"}',
        b'{"query": null}',
        b'{"query": {"obj": "ect"}}',
        b'{"query": "{ __typename }", "variables": "string"}',
        b'{"query": "{ __typename }", "variables": [7]}',
        b'{"query": "{ __typename }", "extensions": false}',
        b'{"query": "{ __typename }", "operationName": 0}',
    ],
    ids=[
        "truncated-json",
        "not-json",
        "empty",
        "not-utf8",
        "a-string",
        "a-number",
        "null",
        "a-batch",
        "no-query",
        "null-query",
        "object-query",
        "string-variables",
        "array-variables",
        "boolean-extensions",
        "number-operation-name",
    ],
)
async def test_malformed_bodies_get_400_with_a_json_error(http: httpx.AsyncClient, body: bytes) -> None:
    # when
    response = await http.post("/graphql", content=body, headers={"content-type": JSON})
    # then
    error_of(response, 400, "BAD_REQUEST")


async def test_the_error_body_uses_graphql_response_json_when_the_client_prefers_it(http: httpx.AsyncClient) -> None:
    # when
    response = await http.post(
        "/graphql", content=b"NONSENSE", headers={"content-type": JSON, "accept": GRAPHQL_RESPONSE}
    )
    # then
    error_of(response, 400, "BAD_REQUEST", GRAPHQL_RESPONSE)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_a_body_that_is_not_json_gets_415(http: httpx.AsyncClient, content_type: str | None) -> None:
    # given
    headers = {"content-type": content_type} if content_type else {}
    # when
    response = await http.post("/graphql", content=b'{"query": "{ __typename }"}', headers=headers)
    # then
    error_of(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
async def test_other_methods_get_405_saying_what_is_allowed(http: httpx.AsyncClient, method: str) -> None:
    # when
    response = await http.request(method, "/graphql", json={"query": "{ __typename }"})
    # then
    error_of(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == "GET, POST"


async def test_a_mutation_sent_with_get_gets_405_and_is_not_run(http: httpx.AsyncClient, gql: GraphQLClient) -> None:
    # given
    variables = '{"input": {"email": "ada@example.com", "name": "Ada"}}'
    # when
    response = await http.get(
        "/graphql",
        params={"query": CREATE_USER, "variables": variables},
        headers={"authorization": f"Bearer {ADMIN_TOKEN}", "accept": GRAPHQL_RESPONSE},
    )
    # then
    error_of(response, 405, "METHOD_NOT_ALLOWED", GRAPHQL_RESPONSE)
    assert response.headers["allow"] == "POST"
    # the GET created no user: the email is still free for another creation (a repeat of the same input would
    # be answered as a retry of it), and it is taken once a POST created one
    other = {"input": {"email": "ada@example.com", "name": "Ada Lovelace"}}
    again = {"input": {"email": "ada@example.com", "name": "Ada King"}}
    assert (await gql(CREATE_USER, other, ADMIN_TOKEN))["createUser"]["__typename"] == "CreateUserSuccess"
    assert (await gql(CREATE_USER, again, ADMIN_TOKEN))["createUser"]["__typename"] == "ValidationError"


async def test_get_with_variables_that_are_not_json_gets_400(http: httpx.AsyncClient) -> None:
    # when
    response = await http.get("/graphql", params={"query": "{ __typename }", "variables": "{nope"})
    # then
    error_of(response, 400, "BAD_REQUEST")
