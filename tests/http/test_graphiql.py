"""GraphiQL at GET /graphql for browsers, and MEETGRAPH_GRAPHIQL=false turning it off."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from meetgraph.app import create_app
from meetgraph.services import Services

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture
async def without_graphiql(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    services.settings.graphiql = False
    app = create_app(services.settings, services=services, migrate=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://meetgraph.test") as client:
        yield client


@pytest.mark.parametrize("accept", ["text/html", BROWSER_ACCEPT])
async def test_browsers_get_graphiql_by_default(http: httpx.AsyncClient, accept: str) -> None:
    # when
    response = await http.get("/graphql", headers={"accept": accept})
    # then
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_with_graphiql_off_a_browser_gets_no_ide_but_a_json_error(without_graphiql: httpx.AsyncClient) -> None:
    # when
    html_only = await without_graphiql.get("/graphql", headers={"accept": "text/html"})
    browser = await without_graphiql.get("/graphql", headers={"accept": BROWSER_ACCEPT})
    # then
    assert html_only.status_code == 406 and html_only.json()["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"
    assert browser.status_code == 400 and browser.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    for response in (html_only, browser):
        assert response.headers["content-type"].startswith("application/json")
        assert "graphiql" not in response.text.lower()


async def test_with_graphiql_off_queries_still_run(without_graphiql: httpx.AsyncClient) -> None:
    # when
    posted = await without_graphiql.post("/graphql", json={"query": "{ __typename }"})
    got = await without_graphiql.get("/graphql", params={"query": "{ __typename }"}, headers={"accept": BROWSER_ACCEPT})
    # then
    for response in (posted, got):
        assert response.status_code == 200 and response.json() == {"data": {"__typename": "Query"}}
