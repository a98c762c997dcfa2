"""Domains of an account: its own hostnames for meeting pages, their DNS verification and their robots.txt."""

from __future__ import annotations

from typing import Any

from tests.utils.dns_server import DnsServer
from tests.utils.graphql import GraphQLClient

DOMAIN_FIELDS = "id hostname robotsDisallowMeetings verified verificationRecord verificationRecordName"

CONNECT_DOMAIN = f"""
mutation($hostname: String!, $robots: Boolean) {{ connectDomain(hostname: $hostname, robotsDisallowMeetings: $robots) {{
  __typename ... on DomainSuccess {{ domain {{ {DOMAIN_FIELDS} }} }}
  ... on Error {{ message }} ... on ValidationError {{ field }} }} }}
"""
"""Leaving out `robots` leaves out robotsDisallowMeetings, so the mutation's default applies."""

SET_ROBOTS = """
mutation($id: ID!, $disallow: Boolean!) { setDomainRobots(domainId: $id, disallowMeetings: $disallow) {
  __typename ... on DomainSuccess { domain { id hostname robotsDisallowMeetings } } ... on Error { message } } }
"""

VERIFY_DOMAIN = f"""
mutation($id: ID!) {{ verifyDomain(domainId: $id) {{
  __typename ... on DomainSuccess {{ domain {{ {DOMAIN_FIELDS} }} }}
  ... on Error {{ message }} ... on ValidationError {{ field }} }} }}
"""


async def connect_domain(gql: GraphQLClient, token: str, hostname: str, robots: bool = False) -> dict[str, Any]:
    """connectDomain, which must succeed; returns the (unverified) domain."""
    data = await gql(CONNECT_DOMAIN, {"hostname": hostname, "robots": robots}, token)
    result: dict[str, Any] = data["connectDomain"]
    assert result["__typename"] == "DomainSuccess", result
    domain: dict[str, Any] = result["domain"]
    return domain


def publish(dns: DnsServer, domain: dict[str, Any]) -> None:
    """Publish the domain's verification TXT record, as its owner does at their DNS provider."""
    dns.publish(domain["verificationRecordName"], domain["verificationRecord"])


async def verify_domain(gql: GraphQLClient, dns: DnsServer, token: str, domain: dict[str, Any]) -> dict[str, Any]:
    """Publish the domain's TXT record and run verifyDomain, which must succeed; returns the verified domain."""
    publish(dns, domain)
    result: dict[str, Any] = (await gql(VERIFY_DOMAIN, {"id": domain["id"]}, token))["verifyDomain"]
    assert result["__typename"] == "DomainSuccess" and result["domain"]["verified"] is True, result
    verified: dict[str, Any] = result["domain"]
    return verified


async def connect_verified_domain(
    gql: GraphQLClient, dns: DnsServer, token: str, hostname: str, robots: bool = False
) -> dict[str, Any]:
    """connectDomain then verifyDomain through the loopback DNS server; returns the verified domain."""
    return await verify_domain(gql, dns, token, await connect_domain(gql, token, hostname, robots))
