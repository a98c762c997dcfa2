"""verifyDomain: the TXT record at _meetgraph.<hostname>, looked up now through the configured nameservers."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select

from db.models import Domain
from meetgraph.services import Services
from scheduling.domain_rules import REFUSED
from tests.utils.dns_server import DnsServer
from tests.utils.domain import CONNECT_DOMAIN, VERIFY_DOMAIN, connect_domain, publish, verify_domain
from tests.utils.graphql import GraphQLClient
from tests.utils.user import create_user, me

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


async def _verify(gql: GraphQLClient, token: str, domain: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = (await gql(VERIFY_DOMAIN, {"id": domain["id"]}, token))["verifyDomain"]
    return result


async def _verified_hosts(services: Services) -> list[tuple[str, str]]:
    async with services.sessionmaker() as session:
        rows = await session.exec(select(Domain).where(col(Domain.verified_at).is_not(None)))
        return [(d.hostname, str(d.account_id)) for d in rows.all()]


async def test_the_published_record_verifies_the_domain(gql: GraphQLClient, services: Services, dns: DnsServer) -> None:
    # given: the record among others at the name (a port other than 53: the test server's)
    _, token = await create_user(gql, "ada@example.com")
    domain = await connect_domain(gql, token, "meet.ada.example")
    dns.publish("_meetgraph.meet.ada.example", "v=spf1 -all", domain["verificationRecord"])
    # when
    result = await _verify(gql, token, domain)
    # then
    assert result["__typename"] == "DomainSuccess"
    assert result["domain"] == {**domain, "verified": True}
    assert (await me(gql, token))["domains"][0]["hostname"] == "meet.ada.example"
    assert dns.queries == ["_meetgraph.meet.ada.example"]
    assert await _verified_hosts(services) == [("meet.ada.example", (await me(gql, token))["accountId"])]


async def test_a_verified_domain_stays_verified_without_asking_again(gql: GraphQLClient, dns: DnsServer) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    domain = await verify_domain(gql, dns, token, await connect_domain(gql, token, "meet.ada.example"))
    dns.reset()
    # when
    again = await _verify(gql, token, domain)
    # then
    assert again["__typename"] == "DomainSuccess" and again["domain"]["verified"] is True
    assert dns.queries == []


async def test_no_record_says_what_to_publish_where(gql: GraphQLClient, services: Services, dns: DnsServer) -> None:
    # given: nothing at the name (NXDOMAIN), then the name without a TXT record
    _, token = await create_user(gql, "ada@example.com")
    domain = await connect_domain(gql, token, "meet.ada.example")
    answers = []
    # when
    answers.append(await _verify(gql, token, domain))
    dns.publish("_meetgraph.meet.ada.example")
    answers.append(await _verify(gql, token, domain))
    # then
    for answer in answers:
        assert answer["__typename"] == "DomainVerificationError"
        assert "_meetgraph.meet.ada.example" in answer["message"]
        assert domain["verificationRecord"] in answer["message"]
    assert await _verified_hosts(services) == []
    assert (await me(gql, token))["domains"][0]["id"] == domain["id"]


async def test_another_value_is_not_enough(gql: GraphQLClient, services: Services, dns: DnsServer) -> None:
    # given: the record of another claim on the same host (a squatter copying the owner's record)
    _, owner = await create_user(gql, "ada@example.com")
    _, squatter = await create_user(gql, "eve@example.com")
    owners = await connect_domain(gql, owner, "meet.ada.example")
    squatters = await connect_domain(gql, squatter, "meet.ada.example")
    publish(dns, owners)
    # when
    result = await _verify(gql, squatter, squatters)
    # then
    assert result["__typename"] == "DomainVerificationError"
    assert squatters["verificationRecord"] in result["message"]
    assert await _verified_hosts(services) == []


async def test_servfail_is_a_typed_error(gql: GraphQLClient, services: Services, dns: DnsServer) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    domain = await connect_domain(gql, token, "meet.ada.example")
    dns.servfail.add("_meetgraph.meet.ada.example")
    # when
    result = await _verify(gql, token, domain)
    # then
    assert result["__typename"] == "DomainVerificationError"
    assert "SERVFAIL" in result["message"] and domain["verificationRecord"] in result["message"]
    assert await _verified_hosts(services) == []


async def test_once_verified_the_host_is_refused_to_the_other_claims(
    gql: GraphQLClient, services: Services, dns: DnsServer
) -> None:
    # given: a squatter's unverified claim, then the owner proves control
    _, squatter = await create_user(gql, "eve@example.com")
    squatters = await connect_domain(gql, squatter, "meet.ada.example")
    _, owner = await create_user(gql, "ada@example.com")
    await verify_domain(gql, dns, owner, await connect_domain(gql, owner, "meet.ada.example"))
    owners_record = dns.txt["_meetgraph.meet.ada.example"]
    dns.publish("_meetgraph.meet.ada.example", *owners_record, squatters["verificationRecord"])  # both answered
    # when
    result = await _verify(gql, squatter, squatters)
    reserved = (await gql(CONNECT_DOMAIN, {"hostname": "localhost"}, squatter))["connectDomain"]
    # then
    assert (result["__typename"], result["message"]) == ("ValidationError", REFUSED)
    assert (reserved["__typename"], reserved["message"]) == ("ValidationError", REFUSED)
    assert [h for h, _ in await _verified_hosts(services)] == ["meet.ada.example"]


async def test_two_accounts_verifying_one_host_at_once_one_wins(
    gql: GraphQLClient, services: Services, dns: DnsServer
) -> None:
    # given: two claims, both values published; the DNS answers both lookups together
    _, ada = await create_user(gql, "ada@example.com")
    _, eve = await create_user(gql, "eve@example.com")
    claims = {token: await connect_domain(gql, token, "meet.shared.example") for token in (ada, eve)}
    dns.publish("_meetgraph.meet.shared.example", *(c["verificationRecord"] for c in claims.values()))
    dns.hold_answers(2)
    # when
    results = await asyncio.gather(*(_verify(gql, token, claim) for token, claim in claims.items()))
    # then
    kinds = sorted((r["__typename"], r.get("message")) for r in results)
    assert kinds == [("DomainSuccess", None), ("ValidationError", REFUSED)]
    assert len(await _verified_hosts(services)) == 1


async def test_an_unknown_domain_is_not_found(gql: GraphQLClient, dns: DnsServer) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    # when
    result = await _verify(gql, token, {"id": "00000000-0000-0000-0000-000000000000"})
    # then
    assert result["__typename"] == "NotFoundError"
    assert dns.queries == []


async def test_a_reserved_claim_from_before_the_rules_is_refused(
    gql: GraphQLClient, services: Services, dns: DnsServer
) -> None:
    # given: a claim stored before reserved names were refused (migration 0004 kept it, unverified)
    _, token = await create_user(gql, "ada@example.com")
    account_id = (await me(gql, token))["accountId"]
    async with services.sessionmaker() as session:
        old = Domain(account_id=uuid.UUID(account_id), hostname="metadata.google.internal", created_at=NOW)
        session.add(old)
        await session.commit()
    dns.publish("_meetgraph.metadata.google.internal", f"meetgraph-verification={old.verification_token}")
    # when
    result = await _verify(gql, token, {"id": str(old.id)})
    # then
    assert (result["__typename"], result["message"], result["field"]) == ("ValidationError", REFUSED, "domainId")
    assert await _verified_hosts(services) == []
    assert dns.queries == []
