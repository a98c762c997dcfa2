"""connectDomain: reserved names and hosts verified elsewhere get one refusal; claims are unverified until proven."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from db.models import Domain
from meetgraph.services import Services
from scheduling.domain_rules import REFUSED
from tests.utils.db import count
from tests.utils.dns_server import DnsServer
from tests.utils.domain import CONNECT_DOMAIN, connect_domain, connect_verified_domain
from tests.utils.graphql import GraphQLClient
from tests.utils.user import create_user, me

RESERVED = [
    "localhost",
    "app.localhost",
    "printer.local",
    "metadata.google.internal",
    "169.254.169.254",
    "127.0.0.1",
    "[::1]",
    "::1",
    "1.0.0.127.in-addr.arpa",
    "intranet",
    "meetgraph.test",
    "MEETGRAPH.TEST.",
]
"""Names from the finding and their kin; meetgraph.test is the tests' own public_url host."""


async def _connect(gql: GraphQLClient, token: str, hostname: str) -> dict[str, Any]:
    result: dict[str, Any] = (await gql(CONNECT_DOMAIN, {"hostname": hostname}, token))["connectDomain"]
    return result


@pytest.mark.parametrize("hostname", RESERVED)
async def test_reserved_names_are_refused(gql: GraphQLClient, services: Services, hostname: str) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    # when
    result = await _connect(gql, token, hostname)
    # then
    assert result == {"__typename": "ValidationError", "message": REFUSED, "field": "hostname"}
    assert await count(services, Domain) == 0


@pytest.mark.parametrize("hostname", ["meet.ada.test", "pages.example", "book.example.com"])
async def test_test_and_public_names_are_claimed_unverified(gql: GraphQLClient, hostname: str) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    # when
    domain = await connect_domain(gql, token, hostname.upper() + ".")
    # then
    assert domain["hostname"] == hostname and domain["verified"] is False
    assert domain["verificationRecordName"] == f"_meetgraph.{hostname}"
    assert domain["verificationRecord"].startswith("meetgraph-verification=")
    assert [d["hostname"] for d in (await me(gql, token))["domains"]] == [hostname]


async def test_each_claim_has_its_own_random_verification_value(gql: GraphQLClient) -> None:
    # given
    _, ada = await create_user(gql, "ada@example.com")
    _, eve = await create_user(gql, "eve@example.com")
    # when
    records = [
        (await connect_domain(gql, ada, "a.example.com"))["verificationRecord"],
        (await connect_domain(gql, ada, "b.example.com"))["verificationRecord"],
        (await connect_domain(gql, eve, "a.example.com"))["verificationRecord"],
    ]
    # then
    assert len(set(records)) == 3
    assert all(len(r) > len("meetgraph-verification=") + 20 for r in records)


async def test_a_host_verified_by_another_account_gets_the_same_refusal_as_localhost(
    gql: GraphQLClient, services: Services, dns: DnsServer
) -> None:
    # given
    _, owner = await create_user(gql, "ada@example.com")
    await connect_verified_domain(gql, dns, owner, "meet.ada.example")
    _, other = await create_user(gql, "eve@example.com")
    # when
    taken = await _connect(gql, other, "meet.ada.example")
    reserved = await _connect(gql, other, "localhost")
    # then
    assert taken == reserved
    assert (await me(gql, other))["domains"] == []
    assert await count(services, Domain) == 1


async def test_an_unverified_claim_blocks_nobody_and_reveals_nothing(gql: GraphQLClient, services: Services) -> None:
    # given: a squatter claims the host first, without proving anything
    _, squatter = await create_user(gql, "eve@example.com")
    await connect_domain(gql, squatter, "meet.ada.example")
    _, owner = await create_user(gql, "ada@example.com")
    # when
    claimed = await _connect(gql, owner, "meet.ada.example")
    fresh = await _connect(gql, owner, "nobody-has-this.example")
    # then: the same answer as for a host nobody claimed
    assert claimed["__typename"] == fresh["__typename"] == "DomainSuccess"
    assert claimed["domain"]["verified"] is fresh["domain"]["verified"] is False
    assert await count(services, Domain) == 3


async def test_the_same_account_connecting_a_host_twice_is_slug_taken(gql: GraphQLClient, services: Services) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    _, colleague = await create_user(gql, "bob@example.com", accountId=(await me(gql, token))["accountId"])
    await connect_domain(gql, token, "meet.example.com")
    # when
    again = await _connect(gql, token, "Meet.Example.com.")
    by_colleague = await _connect(gql, colleague, "meet.example.com")
    # then
    assert again["__typename"] == by_colleague["__typename"] == "SlugTakenError"
    assert await count(services, Domain) == 1


async def test_the_same_account_connecting_a_host_twice_at_once_keeps_one(
    gql: GraphQLClient, services: Services
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    # when
    results = await asyncio.gather(*(_connect(gql, token, "meet.example.com") for _ in range(2)))
    # then
    assert sorted(r["__typename"] for r in results) == ["DomainSuccess", "SlugTakenError"]
    assert await count(services, Domain) == 1
