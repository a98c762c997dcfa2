"""connectExchangeCalendar(ewsUrl:) through the real server: internal targets are never reached, every refusal and
every failure to reach EWS answers the same, malformed URLs are validation errors, allowed networks work."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from emulators.exchange import create_exchange_emulator
from emulators.runner import free_port, serve_in_thread
from emulators.state import EmulatorState
from meetgraph.services import Services
from meetgraph.settings import Settings
from tests.utils.clock import FakeClock
from tests.utils.connection import connect_exchange, ews_url
from tests.utils.db import counts
from tests.utils.emulators import EXCHANGE_USER, World
from tests.utils.graphql import GraphQLClient
from tests.utils.live import LiveDatabases, serve
from tests.utils.outbound import AsHost, Canned, ConnectAttempts, listeners, redis_connections
from tests.utils.redis_server import RedisServer, redis_server_or_skip
from tests.utils.user import create_user, me

NOTHING = {"CalendarConnection": 0, "Calendar": 0, "EmailInbox": 0}
EWS = "/EWS/Exchange.asmx"


@pytest.fixture
def redis_target() -> Iterator[RedisServer]:
    """A live redis-server of this test's own (never the machine's shared one)."""
    server = redis_server_or_skip()
    server.start()
    yield server
    server.stop()


def _internal_targets(loopback: list[int], v6: int, own: int, redis: int, redirect: str) -> dict[str, str]:
    """The fuzzer's internal targets: loopback services (any spelling), the server's own port, Redis, the metadata
    service, private networks, names that resolve to loopback, a redirect from an allowed host to a private one."""
    first, second = loopback
    return {
        "loopback-http": f"http://127.0.0.1:{first}{EWS}",
        "loopback-https": f"https://127.0.0.1:{second}{EWS}",
        "own-port": f"http://127.0.0.1:{own}/graphql",
        "redis": f"http://127.0.0.1:{redis}/",
        "decimal": f"http://2130706433:{first}{EWS}",
        "hex": f"http://0x7f000001:{first}{EWS}",
        "octal": f"https://0177.0.0.1:{first}{EWS}",
        "ipv6-loopback": f"http://[::1]:{v6}{EWS}",
        "ipv4-mapped": f"https://[::ffff:127.0.0.1]:{first}{EWS}",
        "unspecified": f"http://0.0.0.0:{first}{EWS}",
        "metadata": "http://169.254.169.254/latest/meta-data/",
        "rfc1918-10": "https://10.0.0.1/EWS/Exchange.asmx",
        "rfc1918-192": "https://192.168.1.1/EWS/Exchange.asmx",
        "localhost": f"https://localhost:{first}{EWS}",
        "dot-localhost": f"http://meetgraph.localhost:{first}{EWS}",
        "redirect-to-loopback": redirect,
        "public-over-http": "http://93.184.215.14/EWS/Exchange.asmx",
        "dns-failure": "https://exchange.meetgraph.invalid/EWS/Exchange.asmx",
    }


async def test_internal_targets_are_never_reached_and_all_answer_the_same(
    settings: Settings, databases: LiveDatabases, clock: FakeClock, redis_target: RedisServer
) -> None:
    # given: recording listeners on loopback, the server itself, a live Redis; an allowed host that redirects to
    # loopback; an allowed autodiscover service that names an EWS URL on loopback
    state = EmulatorState("x")
    state.seed_demo(EXCHANGE_USER, "Owner (Exchange)")
    with listeners(2) as loopback, listeners(1, "::1") as (v6,), ConnectAttempts() as attempts:
        lure = Canned.redirect(f"http://127.0.0.1:{loopback[0].port}{EWS}")
        emulator = create_exchange_emulator(state)
        autodiscover_as_loopback = AsHost(emulator, f"127.0.0.1:{loopback[1].port}")
        with serve_in_thread(lure) as redirector, serve_in_thread(autodiscover_as_loopback) as discovery:
            allowed = {urlsplit(redirector).netloc, urlsplit(discovery).netloc}
            narrow = settings.model_copy(
                update={
                    "exchange_private_networks": ",".join(sorted(allowed)),
                    "exchange_autodiscover_url": f"{discovery}/autodiscover/autodiscover.svc",
                }
            )
            async with serve(narrow, databases, clock) as live:
                own_port = int(urlsplit(live.url).port or 0)
                targets = _internal_targets(
                    [x.port for x in loopback], v6.port, own_port, redis_target.port, f"{redirector}{EWS}"
                )
                _, token = await create_user(live.gql, "ada@example.com")
                redis_before = redis_connections(redis_target.port)
                # when
                answers: dict[str, Any] = {
                    name: await connect_exchange(live.gql, token, ewsUrl=url) for name, url in targets.items()
                }
                answers["autodiscover-names-loopback"] = await connect_exchange(live.gql, token)
                redis_after = redis_connections(redis_target.port)
                state_after = await me(live.gql, token)
    # then: nothing internal was reached (only the two allowed helpers were connected to)
    assert [x.accepted for x in loopback] == [0, 0] and v6.accepted == 0
    assert redis_after - redis_before == 1  # the second INFO query's own connection, nothing else
    assert {port for _, port in attempts.addresses} <= {int(n.rsplit(":", 1)[1]) for n in allowed}
    assert lure.requests >= 1 and emulator.state.calls["autodiscover"] >= 1  # both lures were taken up
    # and every answer is the same typed error with the same message
    assert {name: answer["__typename"] for name, answer in answers.items()} == dict.fromkeys(answers, "ProviderError")
    assert len({answer["message"] for answer in answers.values()}) == 1, answers
    assert state_after["calendarConnections"] == [] and state_after["emailInboxes"] == []


async def test_closed_ports_and_services_that_are_not_ews_answer_like_a_refusal(
    gql: GraphQLClient, services: Services, settings: Settings, world: World
) -> None:
    # given: allowed, but not Exchange: a closed port, a port that hangs up, web servers that are not EWS
    _, token = await create_user(gql, "ada@example.com")
    closed = free_port()
    web_page, moved = Canned(200, b"<html><body>It works!</body></html>"), Canned.redirect("https://example.com/")
    with listeners(1) as (hangs_up,), serve_in_thread(web_page) as page, serve_in_thread(moved) as redirects:
        servers = (
            f"127.0.0.1:{closed}",
            f"127.0.0.1:{hangs_up.port}",
            urlsplit(page).netloc,
            urlsplit(redirects).netloc,
        )
        settings.exchange_private_networks = ",".join(servers)
        # when: each of them, and a refused address for comparison
        answers = [
            await connect_exchange(gql, token, ewsUrl=f"http://{server}{EWS}")
            for server in (*servers, f"127.0.0.1:{free_port()}")
        ]
    # then
    assert [a["__typename"] for a in answers] == ["ProviderError"] * 5
    assert len({a["message"] for a in answers}) == 1, answers
    assert hangs_up.accepted >= 1 and web_page.requests >= 1 and moved.requests >= 1  # allowed, so really tried
    assert await counts(services) == NOTHING


async def test_a_server_that_never_answers_times_out_like_a_refusal(
    gql: GraphQLClient, services: Services, settings: Settings, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: an allowed port that accepts and then says nothing; a short HTTP timeout (the test waits it out)
    monkeypatch.setattr("providers.exchange.session.HTTP_TIMEOUT_SECONDS", 0.2)
    _, token = await create_user(gql, "ada@example.com")
    with listeners(1, hold=True) as (silent,):
        settings.exchange_private_networks = f"127.0.0.1:{silent.port}"
        # when
        timed_out = await connect_exchange(gql, token, ewsUrl=f"http://127.0.0.1:{silent.port}{EWS}")
        refused = await connect_exchange(gql, token, ewsUrl=f"http://127.0.0.1:{free_port()}{EWS}")
    # then
    assert silent.accepted >= 1
    assert timed_out == refused and refused["__typename"] == "ProviderError"
    assert await counts(services) == NOTHING


@pytest.mark.parametrize(
    "url",
    [
        "https://mail.example.com:99999/EWS/Exchange.asmx",
        "https://[::1/EWS/Exchange.asmx",
        "https://[::1",
        "https://[::g]/EWS/Exchange.asmx",
        "https://[mail.example.com]/EWS/Exchange.asmx",
        "https://mail.example.com:0/EWS/Exchange.asmx",
        "https://mail.example.com:-1/EWS/Exchange.asmx",
        "https://mail example.com/EWS/Exchange.asmx",
        "https://user:secret@mail.example.com/EWS/Exchange.asmx",
        "   https://mail.example.com/" + "x" * 2000 + "   ",
    ],
    ids=[
        "port-99999",
        "open-bracket",
        "open-bracket-only",
        "bad-ipv6",
        "name-in-brackets",
        "port-0",
        "port-negative",
        "space-in-host",
        "user-info",
        "overlong-after-strip",
    ],
)
async def test_malformed_ews_urls_are_validation_errors(
    gql: GraphQLClient, services: Services, world: World, url: str
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    # when
    with ConnectAttempts() as attempts:
        result = await connect_exchange(gql, token, ewsUrl=url)
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == "ewsUrl", result
    assert attempts.addresses == []
    assert await counts(services) == NOTHING


async def test_an_ews_url_padded_with_spaces_to_the_limit_is_accepted(
    gql: GraphQLClient, services: Services, settings: Settings, world: World
) -> None:
    # given: the emulator's URL, padded with spaces past the length limit (the limit applies to the URL itself)
    _, token = await create_user(gql, "ada@example.com")
    url = ews_url(settings)
    # when
    result = await connect_exchange(gql, token, ewsUrl=f"{' ' * 1000}{url}{' ' * 1000}")
    # then
    assert result["__typename"] == "ConnectCalendarSuccess", result


@pytest.mark.parametrize(
    ("networks", "connects"),
    [("10.0.0.0/8, 127.0.0.0/8", True), ("127.0.0.1/32", True), ("10.0.0.0/8", False), ("", False)],
)
async def test_allowed_private_networks_are_reached_over_plain_http_and_nothing_else(
    gql: GraphQLClient, services: Services, settings: Settings, world: World, networks: str, connects: bool
) -> None:
    # given: the emulator on loopback (standing in for on-prem Exchange in 10.0.0.0/8); the operator's networks
    _, token = await create_user(gql, "ada@example.com")
    settings.exchange_private_networks = networks
    # when
    with ConnectAttempts() as attempts:
        result = await connect_exchange(gql, token, settings)
    # then
    if connects:
        assert result["__typename"] == "ConnectCalendarSuccess", result
        assert result["connection"]["email"] == EXCHANGE_USER
    else:
        assert result["__typename"] == "ProviderError"
        assert attempts.addresses == [] and world.exchange.faults.api_calls == 0
        assert await counts(services) == NOTHING


async def test_the_emulator_allowance_is_exactly_its_own_host_and_port(
    gql: GraphQLClient, services: Services, settings: Settings, world: World
) -> None:
    # given: settings.with_emulators allowed the emulator's host:port
    _, token = await create_user(gql, "ada@example.com")
    emulator = urlsplit(ews_url(settings))
    # when: another loopback port, and the emulator's own
    with listeners(1) as (other,):
        other_port = await connect_exchange(gql, token, ewsUrl=f"http://{emulator.hostname}:{other.port}{EWS}")
    own = await connect_exchange(gql, token, ewsUrl=ews_url(settings))
    # then
    assert settings.exchange_private_networks == emulator.netloc
    assert other_port["__typename"] == "ProviderError" and other.accepted == 0
    assert own["__typename"] == "ConnectCalendarSuccess", own
