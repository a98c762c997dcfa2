"""Domains of an account: its own hostnames for meeting pages, and their robots.txt."""

from __future__ import annotations

from typing import Any

from tests.utils.graphql import GraphQLClient

CONNECT_DOMAIN = """
mutation($hostname: String!, $robots: Boolean) { connectDomain(hostname: $hostname, robotsDisallowMeetings: $robots) {
  __typename ... on DomainSuccess { domain { id hostname robotsDisallowMeetings } }
  ... on Error { message } ... on ValidationError { field } } }
"""
"""Leaving out `robots` leaves out robotsDisallowMeetings, so the mutation's default applies."""

SET_ROBOTS = """
mutation($id: ID!, $disallow: Boolean!) { setDomainRobots(domainId: $id, disallowMeetings: $disallow) {
  __typename ... on DomainSuccess { domain { id hostname robotsDisallowMeetings } } ... on Error { message } } }
"""


async def connect_domain(gql: GraphQLClient, token: str, hostname: str, robots: bool = False) -> dict[str, Any]:
    """connectDomain, which must succeed; returns the domain."""
    data = await gql(CONNECT_DOMAIN, {"hostname": hostname, "robots": robots}, token)
    result: dict[str, Any] = data["connectDomain"]
    assert result["__typename"] == "DomainSuccess", result
    domain: dict[str, Any] = result["domain"]
    return domain
