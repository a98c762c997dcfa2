from __future__ import annotations

import httpx
import pytest
from graphql import get_introspection_query

from meetgraph.app import create_app
from meetgraph.services import Services
from tests.utils.graphql import GraphQLClient
from tests.utils.user import create_user


async def test_over_deep_queries_are_refused(services: Services) -> None:
    # given: the schema has no cycles, so the limit is shown with a low setting
    services.settings.max_query_depth = 2
    app = create_app(services.settings, services=services, migrate=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        gql = GraphQLClient(http)
        _, token = await create_user(gql, "ada@example.com")
        # when
        ok = await gql.raw("{ me { calendarSettings { pagesActive } } }", token=token)
        deep = await gql.raw("{ me { calendarSettings { defaultMeetingLink { id } } } }", token=token)
    # then
    assert "errors" not in ok
    assert "exceeds maximum operation depth" in deep["errors"][0]["message"]
    assert deep["errors"][0]["extensions"] == {
        "code": "GRAPHQL_VALIDATION_FAILED",
        "validationErrorCode": "MAX_DEPTH_EXCEEDED",
    }


async def test_graphiql_introspection_fits_the_limits(gql: GraphQLClient) -> None:
    body = await gql.raw(get_introspection_query(descriptions=True))
    assert "errors" not in body and body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_too_many_aliases_are_refused(gql: GraphQLClient) -> None:
    _, token = await create_user(gql, "ada@example.com")
    aliases = " ".join(f"a{i}: me {{ id }}" for i in range(40))
    body = await gql.raw(f"{{ {aliases} }}", token=token)
    assert body["errors"] and body.get("data") is None


async def test_too_many_tokens_are_refused(gql: GraphQLClient) -> None:
    fields = " ".join(["id"] * 3000)
    body = await gql.raw(f"{{ me {{ {fields} }} }}")
    assert body["errors"] and body.get("data") is None


async def test_unexpected_errors_are_masked(
    gql: GraphQLClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")

    async def broken(*_: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("resolvers.settings.settings_for", broken)
    # when
    body = await gql.raw("{ me { calendarSettings { pagesActive } } }", token=token)
    # then
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "secret" not in str(body)


async def test_malformed_json_and_unknown_fields_are_clear_errors(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    response = await http.post("/graphql", json={"query": "{ nope }"})
    assert response.status_code == 200 and "Cannot query field" in response.json()["errors"][0]["message"]


async def test_graphiql_is_served(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200 and "graphiql" in response.text.lower()


async def test_alive_and_ready_when_the_database_and_broadcast_answer(http: httpx.AsyncClient) -> None:
    alive = await http.get("/healthz")
    assert alive.status_code == 200 and alive.json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "broadcast": "ok"}}
