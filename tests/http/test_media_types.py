"""GraphQL over HTTP: the response media type follows Accept, and with it the status codes of request errors."""

from __future__ import annotations

import httpx
import pytest

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
RECOMMENDED_ACCEPT = f"{GRAPHQL_RESPONSE}; charset=utf-8, {JSON}; charset=utf-8"
"""What the spec recommends clients send."""

TYPENAME = "{ __typename }"
PARSE_FAILURE = "{"
VALIDATION_FAILURE = "{ noSuchField }"
COERCION_FAILURE = "query Slug($slug: String!) { schedulingPage(slug: $slug) { name } }"
ANONYMOUS_ME = "{ me { id } }"
"""Executes, and its non-null field's UNAUTHENTICATED error nulls the whole `data`."""
TWO_OPERATIONS = "query A { __typename } query B { __typename }"
NO_OPERATION = "fragment F on Query { __typename }"


async def post(http: httpx.AsyncClient, accept: str | None, query: str, **extra: object) -> httpx.Response:
    headers = {"accept": accept} if accept is not None else {}
    return await http.post("/graphql", json={"query": query, **extra}, headers=headers)


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (RECOMMENDED_ACCEPT, GRAPHQL_RESPONSE),
        (f"{JSON}, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0.5, {JSON}", JSON),
        (JSON, JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        (f"text/html, {GRAPHQL_RESPONSE};q=0.1", GRAPHQL_RESPONSE),
        (None, JSON),
    ],
)
async def test_the_response_media_type_is_the_best_the_client_accepts(
    http: httpx.AsyncClient, accept: str | None, media_type: str
) -> None:
    # when
    response = await post(http, accept, TYPENAME)
    # then
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{media_type}; charset=utf-8"
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("accept", ["text/plain", "text/html", f"{GRAPHQL_RESPONSE};q=0, {JSON};q=0"])
async def test_a_client_that_accepts_no_json_gets_406(http: httpx.AsyncClient, accept: str) -> None:
    # when
    response = await post(http, accept, TYPENAME)
    # then
    assert response.status_code == 406
    assert response.headers["content-type"].startswith(JSON)
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"


@pytest.mark.parametrize(
    ("query", "variables"),
    [(PARSE_FAILURE, None), (VALIDATION_FAILURE, None), (COERCION_FAILURE, {"slug": None}), (NO_OPERATION, None)],
    ids=["parse", "validation", "variable-coercion", "operation-not-determined"],
)
async def test_request_errors_are_400_in_graphql_response_json_and_200_in_json(
    http: httpx.AsyncClient, query: str, variables: dict[str, object] | None
) -> None:
    # when
    modern = await post(http, GRAPHQL_RESPONSE, query, variables=variables)
    legacy = await post(http, JSON, query, variables=variables)
    # then: the operation did not run, so the response has no `data` entry
    assert modern.status_code == 400 and modern.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert legacy.status_code == 200 and legacy.headers["content-type"].startswith(JSON)
    for response in (modern, legacy):
        body = response.json()
        assert "data" not in body and body["errors"][0]["message"], body


async def test_field_errors_of_an_executed_operation_are_200_even_when_data_is_null(http: httpx.AsyncClient) -> None:
    # when
    response = await post(http, GRAPHQL_RESPONSE, ANONYMOUS_ME)
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED" and body["errors"][0]["path"] == ["me"]


async def test_naming_an_operation_picks_it_and_an_unknown_name_is_a_request_error(http: httpx.AsyncClient) -> None:
    # when
    named = await post(http, GRAPHQL_RESPONSE, TWO_OPERATIONS, operationName="B")
    unknown = await post(http, GRAPHQL_RESPONSE, TWO_OPERATIONS, operationName="C")
    # then
    assert named.status_code == 200 and named.json() == {"data": {"__typename": "Query"}}
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["extensions"]["code"] == "OPERATION_RESOLUTION_FAILURE"


@pytest.mark.parametrize("accept, status", [(GRAPHQL_RESPONSE, 400), ("application/json", 200)])
async def test_several_operations_and_no_name_is_a_request_error(
    http: httpx.AsyncClient, accept: str, status: int
) -> None:
    # when: the GraphQL spec's GetOperation has no operation to pick
    response = await post(http, accept, TWO_OPERATIONS)
    # then: nothing ran (no `data`), not the first operation
    assert response.status_code == status
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "OPERATION_RESOLUTION_FAILURE"


async def test_queries_run_over_get_with_url_encoded_parameters(http: httpx.AsyncClient) -> None:
    # given
    params = {
        "query": "query Page($slug: String!) { schedulingPage(slug: $slug) { name } }",
        "variables": '{"slug": "nobody"}',
        "operationName": "",
    }
    # when
    response = await http.get("/graphql", params=params, headers={"accept": GRAPHQL_RESPONSE})
    # then
    assert response.status_code == 200 and response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert response.json() == {"data": {"schedulingPage": None}}
