"""An unverified domain serves no pages and no robots.txt of its own, and cannot be chosen as meeting domain."""

from __future__ import annotations

import httpx

from tests.utils.dns_server import DnsServer
from tests.utils.domain import connect_domain, verify_domain
from tests.utils.graphql import GraphQLClient
from tests.utils.page import create_page
from tests.utils.settings import save_settings
from tests.utils.user import create_user, me

PUBLIC_PAGE = """
query($slug: String!, $domain: String) { schedulingPage(slug: $slug, domain: $domain) { slug url } }
"""
ALLOW_ALL = "User-agent: *\nDisallow:\n"


async def test_an_unverified_domain_serves_nothing_until_verified(
    gql: GraphQLClient, http: httpx.AsyncClient, dns: DnsServer
) -> None:
    # given: google.com claimed (the finding), with robots.txt set to hide meetings
    _, token = await create_user(gql, "ada@example.com")
    await create_page(gql, token, "Intro call", slug="intro")
    domain = await connect_domain(gql, token, "google.com", robots=True)
    # when
    page = (await gql(PUBLIC_PAGE, {"slug": "intro", "domain": "google.com"}))["schedulingPage"]
    robots = (await http.get("/robots.txt", headers={"Host": "google.com"})).text
    unknown = (await http.get("/robots.txt", headers={"Host": "unknown.example"})).text
    # then: the answers an unknown host gets
    assert page is None
    assert robots == unknown == ALLOW_ALL
    # when: verified
    await verify_domain(gql, dns, token, domain)
    page = (await gql(PUBLIC_PAGE, {"slug": "intro", "domain": "google.com"}))["schedulingPage"]
    robots = (await http.get("/robots.txt", headers={"Host": "google.com"})).text
    # then
    assert page is not None and page["slug"] == "intro"
    assert "Disallow: /meetings*" in robots.splitlines()


async def test_a_squatters_claim_serves_nothing_of_the_squatter(
    gql: GraphQLClient, http: httpx.AsyncClient, dns: DnsServer
) -> None:
    # given: the owner verified the host; a squatter's claim on it stays unverified
    _, owner = await create_user(gql, "ada@example.com")
    await verify_domain(gql, dns, owner, await connect_domain(gql, owner, "meet.ada.example"))
    _, squatter = await create_user(gql, "eve@example.com")
    await create_page(gql, squatter, "Eve's call", slug="eve")
    await create_page(gql, owner, "Ada's call", slug="ada")
    # when
    squatters = (await gql(PUBLIC_PAGE, {"slug": "eve", "domain": "meet.ada.example"}))["schedulingPage"]
    owners = (await gql(PUBLIC_PAGE, {"slug": "ada", "domain": "meet.ada.example"}))["schedulingPage"]
    # then
    assert squatters is None
    assert owners is not None and owners["slug"] == "ada"


async def test_an_unverified_domain_cannot_be_chosen_as_meeting_domain(gql: GraphQLClient, dns: DnsServer) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    page = await create_page(gql, token, "Intro call", slug="intro")
    domain = await connect_domain(gql, token, "meet.ada.example")
    before = await me(gql, token)
    # when
    refused = await save_settings(gql, token, meetingDomainId=domain["id"])
    # then
    assert refused["__typename"] == "ValidationError" and refused["field"] == "meetingDomainId"
    assert await me(gql, token) == before
    assert page["url"] == "http://meetgraph.test/meetings/intro"
    # when: verified, it can be chosen
    await verify_domain(gql, dns, token, domain)
    chosen = await save_settings(gql, token, meetingDomainId=domain["id"])
    # then
    assert chosen["__typename"] == "CalendarSettingsSuccess"
    assert [p["url"] for p in (await me(gql, token))["schedulingPages"]] == ["https://meet.ada.example/meetings/intro"]
