from __future__ import annotations

import pytest

from tests.utils.dns_server import DnsServer
from tests.utils.domain import CONNECT_DOMAIN, verify_domain
from tests.utils.graphql import GraphQLClient
from tests.utils.page import create_page
from tests.utils.user import create_user

PUBLIC_PAGE = """
query($slug: String!, $domain: String) { schedulingPage(slug: $slug, domain: $domain) {
  name slug durationMinutes timezone url active offline } }
"""


@pytest.mark.parametrize("domain", [None, "meetgraph.test", "http://meetgraph.test/", "MEETGRAPH.TEST"])
async def test_page_is_served_on_the_app_host(gql: GraphQLClient, domain: str | None) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    await create_page(gql, token, name="Intro", slug="intro", timezone="Europe/Berlin")
    # when
    data = await gql(PUBLIC_PAGE, {"slug": "intro", "domain": domain})
    # then
    assert data["schedulingPage"] == {
        "name": "Intro",
        "slug": "intro",
        "durationMinutes": 30,
        "timezone": "Europe/Berlin",
        "url": "http://meetgraph.test/meetings/intro",
        "active": True,
        "offline": True,
    }


async def test_page_is_served_on_its_accounts_domain_only(gql: GraphQLClient, dns: DnsServer) -> None:
    # given
    _, ada = await create_user(gql, "ada@example.com")
    _, other = await create_user(gql, "eve@example.com")
    await create_page(gql, ada, slug="intro")
    connected = await gql(CONNECT_DOMAIN, {"hostname": "meet.ada.example"}, ada)
    assert connected["connectDomain"]["__typename"] == "DomainSuccess"
    await verify_domain(gql, dns, ada, connected["connectDomain"]["domain"])
    foreign = (await gql(CONNECT_DOMAIN, {"hostname": "meet.eve.example"}, other))["connectDomain"]
    await verify_domain(gql, dns, other, foreign["domain"])
    # when
    on_own = await gql(PUBLIC_PAGE, {"slug": "intro", "domain": "meet.ada.example"})
    on_foreign = await gql(PUBLIC_PAGE, {"slug": "intro", "domain": "meet.eve.example"})
    on_unknown = await gql(PUBLIC_PAGE, {"slug": "intro", "domain": "unrelated.example"})
    # then
    assert on_own["schedulingPage"]["slug"] == "intro"
    assert on_foreign["schedulingPage"] is None
    assert on_unknown["schedulingPage"] is None


async def test_unknown_slug_is_null(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    await create_page(gql, token, slug="intro")
    # when
    data = await gql(PUBLIC_PAGE, {"slug": "outro"})
    # then
    assert data["schedulingPage"] is None


async def test_public_page_hides_owner_fields(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    await create_page(gql, token, slug="intro")
    # when
    body = await gql.raw('{ schedulingPage(slug: "intro") { id bufferMinutes } }')
    # then
    assert body.get("errors")
