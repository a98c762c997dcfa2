"""Connecting Exchange where the URL is not what it should be: every failure the user can act on is told as it is
(typed reason, actionable message, never library text); unreachable addresses still answer alike."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import requests
from sqlmodel import select

from db.models import CalendarConnection
from emulators.exchange import create_exchange_emulator
from emulators.state import EmulatorState
from meetgraph.providers import provider_for
from meetgraph.services import Services
from meetgraph.settings import Settings
from providers.guarded_http import CheckedHTTPAdapter, checked_session, context_trusting, using
from providers.http import RetryPolicy
from providers.outbound import OutboundPolicy
from tests.utils.calendars import live_events, primary_id
from tests.utils.clock import FakeClock
from tests.utils.connection import connect
from tests.utils.db import counts
from tests.utils.emulators import EXCHANGE_PASSWORD, EXCHANGE_USER, EmulatorServer, World
from tests.utils.ews_stand_ins import (
    Certificates,
    FailingOperation,
    account_locked,
    bearer_only,
    bearer_only_with_diagnostics,
    iis_start_page,
    negotiate_only,
    owa_login_page,
    private_ca,
    redirect_to_owa,
    serve,
)
from tests.utils.graphql import GraphQLClient
from tests.utils.jobs import jobs_of_kind
from tests.utils.meeting import book, my_meetings
from tests.utils.outbound import AsHost, Canned, ConnectAttempts
from tests.utils.page import create_page
from tests.utils.user import create_user, me

EWS = "/EWS/Exchange.asmx"
CONNECT = """
mutation($input: ExchangeConnectionInput!) { connectExchangeCalendar(input: $input) {
  __typename
  ... on ConnectCalendarSuccess { connection { id provider email status } }
  ... on ProviderError { reason }
  ... on Error { message } } }
"""
RAW_LIBRARY_TEXT = (
    "TransportError",
    "HTTPSConnectionPool",
    "HTTPConnectionPool",
    "Max retries exceeded",
    "Traceback",
    "SSLError",
    "CERTIFICATE_VERIFY_FAILED",
    "MalformedResponseError",
    "TypeError",
    "exchangelib",
    "Exchange server: ",
)
NOTHING = {"CalendarConnection": 0, "Calendar": 0, "EmailInbox": 0}
SLOT = datetime(2026, 12, 2, 9, tzinfo=UTC)
OWNER = "ada@example.com"


def assert_no_library_text(answer: dict[str, Any]) -> None:
    text = json.dumps(answer)
    assert not [raw for raw in RAW_LIBRARY_TEXT if raw in text], answer


async def connect_at(gql: GraphQLClient, token: str, ews_url: str | None, email: str = EXCHANGE_USER) -> dict[str, Any]:
    variables = {"input": {"email": email, "password": EXCHANGE_PASSWORD, "ewsUrl": ews_url}}
    result: dict[str, Any] = (await gql(CONNECT, variables, token))["connectExchangeCalendar"]
    return result


def allow(settings: Settings, *urls: str) -> None:
    """The settings' outbound policy also allows these (loopback) servers."""
    hosts = [urlsplit(url).netloc for url in urls]
    settings.exchange_private_networks = ",".join([settings.exchange_private_networks, *hosts])


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    return private_ca(tmp_path)


@pytest.fixture
def ews_over_tls(certificates: Certificates) -> Iterator[str]:
    """The EWS emulator served over TLS with a certificate of a private CA (as an on-prem Exchange)."""
    state = EmulatorState("x")
    state.seed_demo(EXCHANGE_USER, "Owner (Exchange)")
    with serve(create_exchange_emulator(state), certificates) as base:
        yield base


# certificates ---------------------------------------------------------------------------------------------------
async def test_a_certificate_from_a_private_ca_is_told_with_the_setting_that_trusts_it(
    gql: GraphQLClient, services: Services, settings: Settings, ews_over_tls: str
) -> None:
    # given
    _, token = await create_user(gql, OWNER)
    allow(settings, ews_over_tls)
    # when
    result = await connect_at(gql, token, f"{ews_over_tls}{EWS}")
    # then
    assert result["__typename"] == "ProviderError" and result["reason"] == "CERTIFICATE_NOT_TRUSTED", result
    assert "MEETGRAPH_EXCHANGE_CA_BUNDLE" in result["message"]
    assert_no_library_text(result)
    assert await counts(services) == NOTHING


async def test_the_ca_bundle_setting_trusts_the_on_prem_ca_for_connecting_and_later_calls(
    gql: GraphQLClient, services: Services, settings: Settings, certificates: Certificates, ews_over_tls: str
) -> None:
    # given
    _, token = await create_user(gql, OWNER)
    allow(settings, ews_over_tls)
    settings.exchange_ca_bundle = str(certificates.ca)
    # when
    result = await connect_at(gql, token, f"{ews_over_tls}{EWS}")
    # then: connected, and the stored connection's provider reads the calendars over the same TLS
    assert result["__typename"] == "ConnectCalendarSuccess", result
    async with services.sessionmaker() as session:
        (connection,) = (await session.exec(select(CalendarConnection))).all()
    async with provider_for(connection, services) as provider:
        calendars = await provider.list_calendars()
    assert [c.is_primary for c in calendars].count(True) == 1


def test_the_ca_bundle_is_trusted_only_where_it_is_given_and_besides_the_system_cas(
    certificates: Certificates, ews_over_tls: str
) -> None:
    # given
    policy = OutboundPolicy.parse(urlsplit(ews_over_tls).netloc)
    session = checked_session(requests.Session(), CheckedHTTPAdapter())
    before = dict(os.environ)
    # when
    with using(policy, ca_bundle=str(certificates.ca)):
        trusted = session.post(f"{ews_over_tls}{EWS}", data=b"")
    with using(policy), pytest.raises(requests.exceptions.SSLError):
        session.post(f"{ews_over_tls}{EWS}", data=b"")
    # then: the bundle's CA is added to the system's, nothing process-wide changed
    assert trusted.status_code == 401
    assert context_trusting(str(certificates.ca)).cert_store_stats()["x509_ca"] > 1
    assert dict(os.environ) == before


# not EWS ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("server", "path"),
    [(iis_start_page, "/"), (owa_login_page, "/owa/"), (redirect_to_owa, "/"), (redirect_to_owa, EWS)],
    ids=["iis-start-page", "owa-login-page", "redirect-to-owa", "ews-path-redirects-to-owa"],
)
async def test_an_exchange_host_answering_other_than_ews_is_not_an_ews_endpoint(
    gql: GraphQLClient,
    services: Services,
    settings: Settings,
    server: Callable[[], Canned],
    path: str,
) -> None:
    # given
    _, token = await create_user(gql, OWNER)
    app = server()
    with serve(app) as base:
        allow(settings, base)
        # when
        result = await connect_at(gql, token, f"{base}{path}")
    # then
    assert result["__typename"] == "ProviderError" and result["reason"] == "NOT_EXCHANGE_ENDPOINT", result
    assert "/EWS/Exchange.asmx" in result["message"]
    assert_no_library_text(result)
    assert app.requests >= 1 and await counts(services) == NOTHING


# login methods ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("server", "reason", "hint"),
    [
        (negotiate_only, "UNSUPPORTED_AUTHENTICATION", "NTLM"),
        (bearer_only, "MODERN_AUTH_ONLY", "Office 365"),
        (bearer_only_with_diagnostics, "MODERN_AUTH_ONLY", "Office 365"),
    ],
    ids=["negotiate-only", "bearer-only", "bearer-with-modern-auth-diagnostics"],
)
async def test_a_server_without_a_password_login_we_speak_says_so(
    gql: GraphQLClient, services: Services, settings: Settings, server: Callable[[], Canned], reason: str, hint: str
) -> None:
    # given
    _, token = await create_user(gql, OWNER)
    with serve(server()) as base:
        allow(settings, base)
        # when
        result = await connect_at(gql, token, f"{base}{EWS}")
    # then: typed (before: the same raw "TransportError", or an uncaught TypeError), no app password advice
    assert result["__typename"] == "ProviderError" and result["reason"] == reason, result
    assert hint in result["message"] and "app password" not in result["message"]
    assert_no_library_text(result)


async def test_a_locked_account_is_told_without_app_password_advice(
    gql: GraphQLClient, services: Services, settings: Settings
) -> None:
    # given
    _, token = await create_user(gql, OWNER)
    with serve(account_locked()) as base:
        allow(settings, base)
        # when
        result = await connect_at(gql, token, f"{base}{EWS}")
    # then
    assert result["__typename"] == "ProviderError" and result["reason"] == "ACCOUNT_LOCKED_OUT", result
    assert "locked" in result["message"] and "app password" not in result["message"]
    assert_no_library_text(result)


async def test_a_refused_password_keeps_its_app_password_hint(
    gql: GraphQLClient, services: Services, settings: Settings, world: World
) -> None:
    # given
    _, token = await create_user(gql, OWNER)
    # when
    variables = {"input": {"email": EXCHANGE_USER, "password": "wrong", "ewsUrl": ews_url_of(settings)}}
    result = (await gql(CONNECT, variables, token))["connectExchangeCalendar"]
    # then
    assert result["__typename"] == "ProviderError" and result["reason"] == "LOGIN_REFUSED", result
    assert "app password" in result["message"]


def ews_url_of(settings: Settings) -> str:
    assert settings.exchange_autodiscover_url
    return settings.exchange_autodiscover_url.replace("/autodiscover/autodiscover.svc", EWS)


# Exchange Online -------------------------------------------------------------------------------------------------
class Lookups:
    """Every name resolution the process starts (socket.getaddrinfo)."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real, self.names = real, []  # type: list[str]

    def __call__(self, host: Any, *args: Any, **kwargs: Any) -> Any:
        self.names.append(str(host))
        return self.real(host, *args, **kwargs)


@pytest.mark.parametrize(
    ("email", "ews_url"),
    [
        (EXCHANGE_USER, "https://outlook.office365.com/EWS/Exchange.asmx"),
        (EXCHANGE_USER, "https://outlook.office.com/EWS/Exchange.asmx"),
        (EXCHANGE_USER, "https://OUTLOOK.OFFICE365.COM./ews/exchange.asmx"),
        (EXCHANGE_USER, "https://pod51013.outlook.com/ews/exchange.asmx"),
        (EXCHANGE_USER, "https://outlook.office365.us/EWS/Exchange.asmx"),
        (EXCHANGE_USER, "https://outlook-dod.office365.us/EWS/Exchange.asmx"),
        (EXCHANGE_USER, "https://partner.outlook.cn/EWS/Exchange.asmx"),
        ("ada@contoso.onmicrosoft.com", None),
        ("ada@outlook.com", None),
    ],
)
async def test_exchange_online_is_told_to_connect_as_office_365_before_any_network_call(
    gql: GraphQLClient,
    services: Services,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    email: str,
    ews_url: str | None,
) -> None:
    # given
    _, token = await create_user(gql, OWNER)
    lookups = Lookups(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", lookups)
    # when
    with ConnectAttempts() as attempts:
        result = await connect_at(gql, token, ews_url, email=email)
    # then
    assert result["__typename"] == "ProviderError" and result["reason"] == "EXCHANGE_ONLINE", result
    assert "Office 365" in result["message"] and "app password" in result["message"]  # "does not help either"
    assert attempts.addresses == [] and lookups.names == []
    assert world.exchange.faults.api_calls == 0
    assert await counts(services) == NOTHING


async def test_an_exchange_online_host_found_by_autodiscover_is_told_and_not_contacted(
    gql: GraphQLClient, services: Services, settings: Settings
) -> None:
    # given: autodiscover (allowed, answering) names an EWS URL on outlook.office365.com
    state = EmulatorState("x")
    state.seed_demo(EXCHANGE_USER, "Owner (Exchange)")
    _, token = await create_user(gql, OWNER)
    emulator = create_exchange_emulator(state)
    with serve(AsHost(emulator, "outlook.office365.com")) as discovery:
        allow(settings, discovery)
        settings.exchange_autodiscover_url = f"{discovery}/autodiscover/autodiscover.svc"
        # when
        with ConnectAttempts() as attempts:
            result = await connect_at(gql, token, None)
    # then
    assert result["__typename"] == "ProviderError" and result["reason"] == "EXCHANGE_ONLINE", result
    assert {port for _, port in attempts.addresses} == {urlsplit(discovery).port}
    assert set(emulator.state.calls) == {"autodiscover"}  # the EWS host itself was never contacted


# unreachable stays one answer ------------------------------------------------------------------------------------
async def test_unreachable_addresses_still_answer_alike(
    gql: GraphQLClient, services: Services, settings: Settings
) -> None:
    # given: a refused address, and an allowed web server that is not Microsoft's
    _, token = await create_user(gql, OWNER)
    with serve(Canned(200, b"<html><body>It works!</body></html>", {"Content-Type": "text/html"})) as page:
        allow(settings, page)
        # when
        answers = [
            await connect_at(gql, token, url) for url in (f"{page}{EWS}", "http://127.0.0.1:9/EWS/Exchange.asmx")
        ]
    # then
    assert [(a["__typename"], a["reason"]) for a in answers] == [("ProviderError", "UNREACHABLE")] * 2
    assert len({a["message"] for a in answers}) == 1
    for answer in answers:
        assert_no_library_text(answer)


# temporary mailbox states ----------------------------------------------------------------------------------------
@pytest.fixture
def mailbox_moving(emulator_server: tuple[EmulatorServer, str], world: World) -> Iterator[FailingOperation]:
    """The world's EWS answers ErrorMailboxMoveInProgress to the next CreateItem (the mailbox is being moved)."""
    server, _ = emulator_server
    failing = FailingOperation(world.exchange_app, "CreateItem", "ErrorMailboxMoveInProgress", times=1)
    server.exchange.app = failing
    yield failing
    server.install(world)


async def test_a_write_during_a_mailbox_move_is_retried_not_failed(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    services: Services,
    world: World,
    clock: FakeClock,
    mailbox_moving: FailingOperation,
) -> None:
    # given: one try per call, so the move reaches the job
    services.retry = RetryPolicy(attempts=1, total_seconds=30, sleep=services.retry.sleep)
    _, token = await create_user(gql, OWNER)
    await connect(gql, http, token, "EXCHANGE")
    await create_page(gql, token, slug="intro", timezone="Europe/Berlin")
    # when
    result = await book(gql, "intro", SLOT)
    # then: the write met the move and is kept for a later attempt (before: FAILED for good)
    assert result["__typename"] == "BookMeetingSuccess", result
    assert mailbox_moving.failed == 1
    (stored,) = await my_meetings(gql, token)
    assert stored["syncState"] == "PENDING"
    (job,) = await jobs_of_kind(services, "calendar.write_meeting")
    assert job.state.name == "PENDING" and job.attempts == 1 and job.run_at > clock()
    # when the move is over
    await services.drain()
    # then
    (stored,) = await my_meetings(gql, token)
    assert stored["syncState"] == "SYNCED"
    assert len(live_events(world.exchange, primary_id(world.exchange, EXCHANGE_USER))) == 1
    assert (await me(gql, token))["calendarConnections"][0]["status"] == "ACTIVE"
