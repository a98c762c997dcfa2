"""A real `meetgraph serve` process reads MEETGRAPH_DNS_NAMESERVERS (a port other than 53) and verifies a domain
through it; a malformed value stops `meetgraph` at start with a message naming the entry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.utils.dns_server import DnsServer
from tests.utils.domain import connect_verified_domain
from tests.utils.emulators import EmulatorServer
from tests.utils.graphql import GraphQLClient
from tests.utils.processes import Processes, database_url
from tests.utils.user import create_user, me


@pytest.fixture
async def processes(
    backend: str, tmp_path: Path, emulator_server: tuple[EmulatorServer, str]
) -> AsyncIterator[Processes]:
    async with database_url(backend, tmp_path) as url:
        made = Processes(tmp_path, url, emulator_server[1])
        try:
            yield made
        finally:
            await made.close()


async def test_a_served_process_verifies_through_the_configured_nameserver(
    processes: Processes, dns: DnsServer
) -> None:
    # given
    server = await processes.server(MEETGRAPH_DNS_NAMESERVERS=f"127.0.0.1:{dns.port}").start()
    async with httpx.AsyncClient(base_url=server.url) as http:
        gql = GraphQLClient(http)
        _, token = await create_user(gql, "ada@example.com")
        # when
        domain = await connect_verified_domain(gql, dns, token, "meet.ada.example")
        # then
        assert domain["verified"] is True
        assert (await me(gql, token))["domains"][0]["hostname"] == "meet.ada.example"
    assert dns.queries == ["_meetgraph.meet.ada.example"]


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_malformed_nameserver_setting_stops_the_command(processes: Processes) -> None:
    # given
    processes.env["MEETGRAPH_DNS_NAMESERVERS"] = "9.9.9.9,dns.example.com:53"
    # when
    result = await processes.cli("migrate")
    # then
    assert result.returncode != 0
    assert "dns.example.com:53" in result.stderr and "DNS nameserver" in result.stderr
