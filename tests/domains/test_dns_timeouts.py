"""A DNS server that never answers: verifyDomain says so (typed), after the configured timeout."""

from __future__ import annotations

import pytest

from meetgraph.settings import Settings
from tests.utils.dns_server import DnsServer
from tests.utils.domain import VERIFY_DOMAIN, connect_domain
from tests.utils.graphql import GraphQLClient
from tests.utils.user import create_user, me


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.dns_timeout_seconds = 0.5
    return settings


async def test_a_silent_nameserver_is_a_typed_timeout(gql: GraphQLClient, dns: DnsServer) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    domain = await connect_domain(gql, token, "meet.ada.example")
    dns.silent.add("_meetgraph.meet.ada.example")
    # when
    result = (await gql(VERIFY_DOMAIN, {"id": domain["id"]}, token))["verifyDomain"]
    # then
    assert result["__typename"] == "DomainVerificationError"
    assert "timed out" in result["message"] and domain["verificationRecord"] in result["message"]
    assert "_meetgraph.meet.ada.example" in dns.queries
    assert (await me(gql, token))["domains"][0]["id"] == domain["id"]
