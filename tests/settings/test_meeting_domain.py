"""The domain manager, the meeting domain of a user's pages, slugs unique across domains, per-domain robots.txt."""

from __future__ import annotations

import httpx
import pytest

from db.models import Domain
from meetgraph.services import Services
from tests.utils.db import count
from tests.utils.dns_server import DnsServer
from tests.utils.domain import CONNECT_DOMAIN, SET_ROBOTS, connect_domain, connect_verified_domain
from tests.utils.graphql import GraphQLClient
from tests.utils.page import CREATE_PAGE, create_page
from tests.utils.settings import save_settings
from tests.utils.user import create_user, me

PUBLIC_PAGE = """
query($slug: String!, $domain: String) { schedulingPage(slug: $slug, domain: $domain) { slug url } }
"""

ALLOW_ALL = "User-agent: *\nDisallow:\n"


async def test_any_user_of_the_account_may_use_its_domains(gql: GraphQLClient, dns: DnsServer) -> None:
    # given
    _, admin = await create_user(gql, "ada@example.com")
    account_id = (await me(gql, admin))["accountId"]
    domain = await connect_verified_domain(gql, dns, admin, "meet.example.com")
    _, colleague = await create_user(gql, "bob@example.com", accountId=account_id)
    page = await create_page(gql, colleague, "Bob's intro")
    # when
    result = await save_settings(gql, colleague, meetingDomainId=domain["id"])
    # then
    assert result["__typename"] == "CalendarSettingsSuccess"
    assert result["settings"]["meetingDomain"] == {"id": domain["id"], "hostname": "meet.example.com"}
    pages = (await me(gql, colleague))["schedulingPages"]
    assert [p["url"] for p in pages] == [f"https://meet.example.com/meetings/{page['slug']}"]


async def test_another_accounts_domain_cannot_be_chosen(gql: GraphQLClient, dns: DnsServer) -> None:
    # given
    _, other = await create_user(gql, "eve@example.com")
    domain = await connect_verified_domain(gql, dns, other, "eve.example.com")
    _, token = await create_user(gql, "ada@example.com")
    before = await me(gql, token)
    # when
    result = await save_settings(gql, token, meetingDomainId=domain["id"], chatIncludeMeetingLink=False)
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == "meetingDomainId"
    assert await me(gql, token) == before
    assert before["domains"] == []


async def test_changing_the_domain_updates_every_page_url(gql: GraphQLClient, dns: DnsServer) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    first = await connect_verified_domain(gql, dns, token, "meet.example.com")
    second = await connect_verified_domain(gql, dns, token, "book.example.org")
    slugs = [(await create_page(gql, token, name))["slug"] for name in ("Intro call", "Product demo")]
    await save_settings(gql, token, meetingDomainId=first["id"])
    # when
    await save_settings(gql, token, meetingDomainId=second["id"])
    # then
    urls = sorted(p["url"] for p in (await me(gql, token))["schedulingPages"])
    assert urls == sorted(f"https://book.example.org/meetings/{slug}" for slug in slugs)
    # when: clearing the domain brings the app's own host back
    await save_settings(gql, token, meetingDomainId=None)
    # then
    urls = sorted(p["url"] for p in (await me(gql, token))["schedulingPages"])
    assert urls == sorted(f"http://meetgraph.test/meetings/{slug}" for slug in slugs)


async def test_a_page_is_the_same_on_every_domain_of_its_account(gql: GraphQLClient, dns: DnsServer) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    domain = await connect_verified_domain(gql, dns, token, "meet.example.com")
    await save_settings(gql, token, meetingDomainId=domain["id"])
    page = await create_page(gql, token, "Intro call", slug="intro")
    _, other = await create_user(gql, "eve@example.com")
    await connect_verified_domain(gql, dns, other, "eve.example.com")
    # when
    on_domain = (await gql(PUBLIC_PAGE, {"slug": "intro", "domain": "meet.example.com"}))["schedulingPage"]
    on_app = (await gql(PUBLIC_PAGE, {"slug": "intro"}))["schedulingPage"]
    on_foreign = (await gql(PUBLIC_PAGE, {"slug": "intro", "domain": "eve.example.com"}))["schedulingPage"]
    # then
    assert on_domain == on_app == {"slug": "intro", "url": "https://meet.example.com/meetings/intro"}
    assert page["url"] == on_app["url"]
    assert on_foreign is None


async def test_slugs_are_unique_across_users_and_domains(gql: GraphQLClient, dns: DnsServer) -> None:
    # given
    _, first = await create_user(gql, "ada@example.com")
    domain = await connect_verified_domain(gql, dns, first, "meet.example.com")
    await save_settings(gql, first, meetingDomainId=domain["id"])
    await create_page(gql, first, "Intro call", slug="intro")
    _, second = await create_user(gql, "eve@example.com")
    # when
    taken = (await gql(CREATE_PAGE, {"input": {"name": "Mine", "slug": "INTRO"}}, second))["createSchedulingPage"]
    # then
    assert taken["__typename"] == "SlugTakenError"
    assert (await me(gql, second))["schedulingPages"] == []
    # when: a generated slug steps around the taken one
    generated = await create_page(gql, second, "Intro")
    # then
    assert generated["slug"] == "intro-2"


async def test_connecting_a_domain_twice_in_one_account_is_slug_taken(gql: GraphQLClient, services: Services) -> None:
    # given
    _, first = await create_user(gql, "ada@example.com")
    await connect_domain(gql, first, "meet.example.com")
    # when
    same_account = (await gql(CONNECT_DOMAIN, {"hostname": "MEET.example.com."}, first))["connectDomain"]
    # then
    assert same_account["__typename"] == "SlugTakenError"
    assert await count(services, Domain) == 1


@pytest.mark.parametrize(
    "hostname", ["", "localhost", "not a host", "https://meet.example.com", "meet.example.com/path", "meetgraph.test"]
)
async def test_bad_hostname_is_a_validation_error(gql: GraphQLClient, services: Services, hostname: str) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    # when
    result = (await gql(CONNECT_DOMAIN, {"hostname": hostname}, token))["connectDomain"]
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == "hostname"
    assert await count(services, Domain) == 0


async def test_robots_txt_disallows_meetings_on_domains_that_ask(
    gql: GraphQLClient, http: httpx.AsyncClient, dns: DnsServer
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    hidden = await connect_verified_domain(gql, dns, token, "hidden.example.com", robots=True)
    shown = await connect_verified_domain(gql, dns, token, "shown.example.com")
    # when
    bodies = {
        host: (await http.get("/robots.txt", headers={"Host": host})).text
        for host in ("hidden.example.com", "shown.example.com", "HIDDEN.example.com:443", "meetgraph.test", "x.test")
    }
    # then
    assert hidden["robotsDisallowMeetings"] is True and shown["robotsDisallowMeetings"] is False
    assert "Disallow: /meetings*" in bodies["hidden.example.com"].splitlines()
    assert "Disallow: /meetings*" in bodies["HIDDEN.example.com:443"].splitlines()
    assert bodies["shown.example.com"] == bodies["meetgraph.test"] == bodies["x.test"] == ALLOW_ALL


async def test_set_domain_robots_switches_robots_txt(
    gql: GraphQLClient, http: httpx.AsyncClient, dns: DnsServer
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    domain = await connect_verified_domain(gql, dns, token, "meet.example.com")
    # when
    on = (await gql(SET_ROBOTS, {"id": domain["id"], "disallow": True}, token))["setDomainRobots"]
    body_on = (await http.get("/robots.txt", headers={"Host": "meet.example.com"})).text
    off = (await gql(SET_ROBOTS, {"id": domain["id"], "disallow": False}, token))["setDomainRobots"]
    body_off = (await http.get("/robots.txt", headers={"Host": "meet.example.com"})).text
    # then
    assert on["domain"]["robotsDisallowMeetings"] is True and off["domain"]["robotsDisallowMeetings"] is False
    assert "Disallow: /meetings*" in body_on.splitlines()
    assert body_off == ALLOW_ALL
    assert (await me(gql, token))["domains"] == [off["domain"]]


async def test_robots_txt_is_plain_text(http: httpx.AsyncClient) -> None:
    # when
    response = await http.get("/robots.txt")
    # then
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
