"""Exchange-specific behaviour: connecting (EWS URL, autodiscover, login, server version) and EWS details."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from emulators.exchange import create_exchange_emulator
from emulators.exchange_ews import EwsTraffic
from emulators.runner import free_port, serve_in_thread
from emulators.state import EmulatedAccount, EmulatorState
from providers.base import (
    Attendee,
    CalendarAccessLost,
    EventDraft,
    ProviderAuthError,
    ProviderUnavailable,
    ProviderVersionError,
)
from providers.exchange import ExchangeAccounts, ExchangeCalendarProvider, ExchangeCredentials, connect_exchange
from providers.http import RetryPolicy
from providers.outbound import OutboundPolicy
from scheduling.calendars import EXCHANGE_CAPABILITIES
from tests.providers.harness import RecordedSleeps

OWNER = "owner@exchange.test"
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
KEY_SET = "0b7c1e2d-3f4a-5b6c-7d8e-9f0a1b2c3d4e"
KEY_PROPERTY = f"PropertySetId={KEY_SET};PropertyName=Key"


def find_item_request(folder_id: str, view_and_restriction: str) -> str:
    return (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
        'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Body>'
        '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>'
        f"{view_and_restriction}"
        f'<m:ParentFolderIds><t:FolderId Id="{folder_id}"/></m:ParentFolderIds></m:FindItem></s:Body></s:Envelope>'
    )


@dataclass
class Server:
    state: EmulatorState
    account: EmulatedAccount
    base_url: str
    traffic: EwsTraffic

    @property
    def ews_url(self) -> str:
        return f"{self.base_url}/EWS/Exchange.asmx"

    @property
    def autodiscover_url(self) -> str:
        return f"{self.base_url}/autodiscover/autodiscover.svc"

    @property
    def outbound(self) -> OutboundPolicy:
        """Exactly this emulator's host:port (plain http on loopback) may be reached."""
        return OutboundPolicy.parse(urlsplit(self.base_url).netloc)

    def credentials(self, password: str | None = None) -> ExchangeCredentials:
        return ExchangeCredentials(OWNER, password or self.account.password, ews_url=self.ews_url)


@contextmanager
def exchange_server(
    server_version: str = "Exchange2016", auth: tuple[str, ...] = ("NTLM", "Basic")
) -> Iterator[Server]:
    """An emulated server; with Basic beside NTLM (as many on-prem servers are) so raw requests here can log in,
    while exchangelib picks NTLM."""
    state = EmulatorState(id_prefix="AAMkAD")
    account = state.seed_demo(OWNER, "Owner")
    app = create_exchange_emulator(state, server_version=server_version, auth=auth)
    with serve_in_thread(app) as base_url:
        yield Server(state, account, base_url, app.state.traffic)


def policy() -> RetryPolicy:
    return RetryPolicy(attempts=3, total_seconds=30, sleep=RecordedSleeps())


async def connected(server: Server) -> ExchangeCalendarProvider:
    provider, _ = await connect_exchange(server.credentials(), retry=policy(), outbound=server.outbound)
    return provider


async def test_connect_with_an_explicit_ews_url_keeps_it() -> None:
    with exchange_server() as server:
        # when
        provider, saved = await connect_exchange(server.credentials(), retry=policy(), outbound=server.outbound)
        # then
        assert saved.ews_url == server.ews_url
        calendars = await provider.list_calendars()
        assert [c.id for c in calendars if c.is_primary] == [server.account.primary_calendar_id]
        await provider.aclose()


async def test_connect_without_url_autodiscovers_the_ews_url() -> None:
    with exchange_server() as server:
        # given
        credentials = ExchangeCredentials(OWNER, server.account.password)
        # when
        provider, saved = await connect_exchange(
            credentials, autodiscover_url=server.autodiscover_url, retry=policy(), outbound=server.outbound
        )
        # then
        assert saved.ews_url == server.ews_url
        assert saved.password == credentials.password
        assert await provider.list_calendars()
        await provider.aclose()


async def test_wrong_password_is_refused_with_the_app_password_hint() -> None:
    with exchange_server() as server:
        # when / then
        with pytest.raises(ProviderAuthError) as caught:
            await connect_exchange(server.credentials(password="wrong"), retry=policy(), outbound=server.outbound)
        assert "app password" in caught.value.message
        assert "two-factor" in caught.value.message


async def test_autodiscover_with_a_wrong_password_is_an_auth_error() -> None:
    with exchange_server() as server:
        # when / then
        with pytest.raises(ProviderAuthError):
            await connect_exchange(
                ExchangeCredentials(OWNER, "wrong"),
                autodiscover_url=server.autodiscover_url,
                retry=policy(),
                outbound=server.outbound,
            )


@pytest.mark.parametrize("server_version", ["Exchange2010", "Exchange2010_SP1", "Exchange2007_SP1", "Exchange2007"])
async def test_servers_older_than_2010_sp2_are_refused(server_version: str) -> None:
    with exchange_server(server_version) as server:
        # when / then
        with pytest.raises(ProviderVersionError) as caught:
            await connect_exchange(server.credentials(), retry=policy(), outbound=server.outbound)
        assert "2010 SP2" in caught.value.message


ACCEPTED_VERSIONS = {
    "Exchange2010_SP2": ("14", "2", "Exchange2010_SP2"),
    "Exchange2010_SP3": ("14", "3", "Exchange2010_SP2"),
    "Exchange2013": ("15", "0", "Exchange2013"),
    "Exchange2013_SP1": ("15", "0", "V2_11"),
    "Exchange2016": ("15", "1", "V2017_07_11"),
    "Exchange2019": ("15", "2", "V2017_07_11"),
    "ExchangeOnline": ("15", "20", "V2018_01_08"),
}
"""Releases from 2010 SP2 on, with the MajorVersion, MinorVersion and Version their ServerVersionInfo carries."""


@pytest.mark.parametrize("server_version", list(ACCEPTED_VERSIONS))
async def test_exchange_2010_sp2_and_later_are_accepted(server_version: str) -> None:
    with exchange_server(server_version) as server:
        # given: the version header the server sends, as real servers write it
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                server.ews_url, content=find_item_request("x", ""), auth=(OWNER, server.account.password)
            )
        info = answer.text.split("<h:ServerVersionInfo", 1)[1].split("/>", 1)[0]
        major, minor, version = ACCEPTED_VERSIONS[server_version]
        assert f'MajorVersion="{major}" MinorVersion="{minor}"' in info and f'Version="{version}"' in info
        # when
        provider = await connected(server)
        # then
        busy = await provider.get_busy([server.account.primary_calendar_id], T0, T0 + timedelta(days=1))
        assert busy.intervals[server.account.primary_calendar_id] == []
        await provider.aclose()


async def test_unreachable_server_is_unavailable_after_retries() -> None:
    # given
    sleeps = RecordedSleeps()
    port = free_port()
    credentials = ExchangeCredentials(OWNER, "pw", ews_url=f"http://127.0.0.1:{port}/EWS/Exchange.asmx")
    # when / then
    with pytest.raises(ProviderUnavailable):
        await connect_exchange(
            credentials,
            retry=RetryPolicy(attempts=3, sleep=sleeps),
            outbound=OutboundPolicy.parse(f"127.0.0.1:{port}"),
        )
    assert len(sleeps.calls) == 2


async def test_long_windows_are_split_into_calendar_views_of_at_most_42_days() -> None:
    with exchange_server() as server:
        # given
        primary = server.account.primary_calendar_id
        across_boundary = T0 + timedelta(days=42) - timedelta(hours=1)
        server.state.add_event(primary, T0 + timedelta(days=1), T0 + timedelta(days=1, hours=1))
        server.state.add_event(primary, across_boundary, across_boundary + timedelta(hours=2))
        server.state.add_event(primary, T0 + timedelta(days=99), T0 + timedelta(days=99, hours=1))
        provider = await connected(server)
        # when
        busy = await provider.get_busy([primary], T0, T0 + timedelta(days=100))
        # then
        views = sorted((start, end) for folder, start, end in server.traffic.calendar_views if folder == primary)
        assert len(views) == 3
        assert all(end - start <= timedelta(days=42) for start, end in views)
        assert views[0][0] == T0 and views[-1][1] == T0 + timedelta(days=100)
        assert all(a[1] == b[0] for a, b in zip(views, views[1:]))
        assert [i.start for i in busy.intervals[primary]] == [
            T0 + timedelta(days=1),
            across_boundary,
            T0 + timedelta(days=99),
        ]
        await provider.aclose()


async def test_free_cancelled_and_touching_items_are_not_busy() -> None:
    with exchange_server() as server:
        # given
        primary = server.account.primary_calendar_id
        server.state.add_event(primary, T0, T0 + timedelta(hours=1), busy=False)
        server.state.add_event(primary, T0 + timedelta(hours=2), T0 + timedelta(hours=3)).cancelled = True
        server.state.add_event(primary, T0 - timedelta(hours=1), T0)  # ends exactly at the window start
        kept = server.state.add_event(primary, T0 + timedelta(hours=4), T0 + timedelta(hours=5))
        provider = await connected(server)
        # when
        busy = await provider.get_busy([primary], T0, T0 + timedelta(days=1))
        # then
        assert [(i.start, i.end) for i in busy.intervals[primary]] == [(kept.start, kept.end)]
        await provider.aclose()


async def test_create_event_sends_invitations_to_attendees() -> None:
    with exchange_server() as server:
        # given
        provider = await connected(server)
        draft = EventDraft(
            summary="Demo",
            start=T0,
            end=T0 + timedelta(minutes=45),
            attendees=[Attendee("a@example.org", "A"), Attendee("b@example.org")],
            description="Booked via meetgraph",
            timezone="Europe/Paris",
        )
        # when
        event_id = await provider.create_event(server.account.primary_calendar_id, draft)
        # then
        event = server.state.calendars[server.account.primary_calendar_id].events[event_id]
        assert event.attendees == ["a@example.org", "b@example.org"]
        assert event.invitations_sent
        assert (event.start, event.end) == (T0, T0 + timedelta(minutes=45))
        assert event.description and "Booked via meetgraph" in event.description
        await provider.aclose()


def hold_back_the_next_create(server: Server, provider: ExchangeCalendarProvider) -> int:
    """The next CreateItem is stored but answered after the client's timeout; returns the operations so far."""
    provider._ews().protocol.TIMEOUT = 0.5
    server.state.faults.lost_answer_delay_seconds = 1.5
    server.state.faults.lose_next_create = "timeout"
    return len(server.traffic.operations)


async def test_a_timed_out_create_item_is_followed_by_the_key_lookup_not_a_second_create() -> None:
    with exchange_server() as server:
        # given
        provider = await connected(server)
        before = hold_back_the_next_create(server, provider)
        draft = EventDraft("Demo", T0, T0 + timedelta(minutes=45), key="6f1c2f0e-8a8e-4b6a-9a3e-2d1f5c7b9e10")
        # when
        event_id = await provider.create_event(server.account.primary_calendar_id, draft)
        # then
        assert server.traffic.operations[before:] == ["FindItem", "CreateItem", "FindItem"]
        assert list(server.state.calendars[server.account.primary_calendar_id].events) == [event_id]
        await provider.aclose()


async def test_a_create_without_a_key_is_not_sent_again_after_a_timeout() -> None:
    with exchange_server() as server:
        # given
        provider = await connected(server)
        before = hold_back_the_next_create(server, provider)
        # when / then
        with pytest.raises(ProviderUnavailable):
            await provider.create_event(server.account.primary_calendar_id, EventDraft("Demo", T0, T0 + timedelta(1)))
        assert server.traffic.operations[before:] == ["CreateItem"]
        await provider.aclose()


async def test_exchangelib_is_left_no_retries_of_its_own() -> None:
    with exchange_server() as server:
        # given
        provider = await connected(server)
        # then: FaultTolerance would re-send a timed-out CreateItem after its back-off; fail-fast never re-sends
        assert provider._ews().protocol.retry_policy.fail_fast
        await provider.aclose()


async def test_emulator_finds_items_by_extended_property_but_not_within_a_calendar_view() -> None:
    with exchange_server() as server:
        # given
        calendar = server.account.primary_calendar_id
        stamped = server.state.add_event(calendar, T0, T0 + timedelta(hours=1), properties={KEY_PROPERTY: "k-1"})
        server.state.add_event(calendar, T0, T0 + timedelta(hours=1), properties={KEY_PROPERTY: "k-2"})
        restriction = (
            "<m:Restriction><t:IsEqualTo>"
            f'<t:ExtendedFieldURI PropertySetId="{KEY_SET.upper()}" PropertyName="Key" PropertyType="String"/>'
            '<t:FieldURIOrConstant><t:Constant Value="k-1"/></t:FieldURIOrConstant></t:IsEqualTo></m:Restriction>'
        )
        view = '<m:CalendarView StartDate="2026-12-07T00:00:00Z" EndDate="2026-12-08T00:00:00Z"/>'
        async with httpx.AsyncClient(auth=(OWNER, server.account.password)) as client:
            # when
            found = await client.post(server.ews_url, content=find_item_request(calendar, restriction))
            refused = await client.post(server.ews_url, content=find_item_request(calendar, view + restriction))
        # then
        assert f'Id="{stamped.id}"' in found.text
        assert found.text.count("<t:CalendarItem>") == 1
        assert "<m:ResponseCode>ErrorInvalidRestriction</m:ResponseCode>" in refused.text


def test_capabilities_are_all_off_and_credentials_hide_the_password() -> None:
    # given
    credentials = ExchangeCredentials(OWNER, "secret", username="DOMAIN\\owner", ews_url="https://mail/EWS")
    # then
    assert ExchangeCalendarProvider.capabilities == EXCHANGE_CAPABILITIES
    assert not any(vars(EXCHANGE_CAPABILITIES).values())
    assert "secret" not in repr(credentials)
    assert ExchangeCredentials.from_dict(credentials.to_dict()) == credentials


async def test_emulator_challenges_for_basic_auth_and_faults_unknown_operations() -> None:
    with exchange_server() as server:
        # given
        body = (
            '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            '<m:Frobnicate xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"/>'
            "</s:Body></s:Envelope>"
        )
        async with httpx.AsyncClient() as client:
            # when
            anonymous = await client.post(server.ews_url, content=body)
            unknown = await client.post(server.ews_url, content=body, auth=(OWNER, server.account.password))
        # then
        assert anonymous.status_code == 401
        assert anonymous.headers.get_list("WWW-Authenticate") == ["Negotiate", "NTLM", 'Basic realm="exchange.test"']
        assert unknown.status_code == 500
        assert "ErrorInvalidRequest" in unknown.text
        assert server.traffic.operations == ["Frobnicate"]


async def test_lost_shared_calendar_answers_access_denied() -> None:
    with exchange_server() as server:
        # given
        shared = next(cid for cid in server.account.access if server.state.calendars[cid].owner_email != OWNER)
        server.state.lose_access(OWNER, shared)
        body = (
            '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
            'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header>'
            '<t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body>'
            "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>"
            f'<m:FolderIds><t:FolderId Id="{shared}"/></m:FolderIds></m:GetFolder></s:Body></s:Envelope>'
        )
        async with httpx.AsyncClient() as client:
            # when
            answer = await client.post(server.ews_url, content=body, auth=(OWNER, server.account.password))
        # then
        assert answer.status_code == 200
        assert 'ResponseClass="Error"' in answer.text
        assert "<m:ResponseCode>ErrorAccessDenied</m:ResponseCode>" in answer.text
        assert "ServerVersionInfo" in answer.text


async def test_providers_sharing_an_account_cache_probe_the_server_once() -> None:
    with exchange_server() as server:
        # given
        accounts = ExchangeAccounts()
        primary = server.account.primary_calendar_id
        server.state.add_event(primary, T0, T0 + timedelta(hours=1))
        first = ExchangeCalendarProvider(
            server.credentials(), retry=policy(), outbound=server.outbound, accounts=accounts
        )
        await first.get_busy([primary], T0, T0 + timedelta(days=1))
        await first.aclose()
        server.traffic.operations.clear()
        # when
        second = ExchangeCalendarProvider(
            server.credentials(), retry=policy(), outbound=server.outbound, accounts=accounts
        )
        busy = await second.get_busy([primary], T0, T0 + timedelta(days=1))
        await second.aclose()
        # then
        assert server.traffic.operations == ["FindItem"]
        assert [(i.start, i.end) for i in busy.intervals[primary]] == [(T0, T0 + timedelta(hours=1))]
        assert len(accounts) == 1
        accounts.close()
        assert len(accounts) == 0


async def test_the_account_cache_keys_on_the_password_and_forgets_refused_logins() -> None:
    with exchange_server() as server:
        # given
        accounts = ExchangeAccounts()
        primary = server.account.primary_calendar_id
        good = ExchangeCalendarProvider(
            server.credentials(), retry=policy(), outbound=server.outbound, accounts=accounts
        )
        await good.get_busy([primary], T0, T0 + timedelta(days=1))
        wrong = ExchangeCalendarProvider(
            server.credentials("wrong"), retry=policy(), outbound=server.outbound, accounts=accounts
        )
        # when
        with pytest.raises(ProviderAuthError):
            await wrong.get_busy([primary], T0, T0 + timedelta(days=1))
        # then
        assert ExchangeAccounts.fingerprint(server.credentials()) != ExchangeAccounts.fingerprint(
            server.credentials("wrong")
        )
        assert len(accounts) == 1  # the refused one is not kept; the good one is untouched
        busy = await good.get_busy([primary], T0, T0 + timedelta(days=1))
        assert primary in busy.intervals
        accounts.close()


async def test_a_lost_folder_is_reported_through_the_cached_account() -> None:
    with exchange_server() as server:
        # given
        accounts = ExchangeAccounts()
        primary = server.account.primary_calendar_id
        provider = ExchangeCalendarProvider(
            server.credentials(), retry=policy(), outbound=server.outbound, accounts=accounts
        )
        await provider.get_busy([primary], T0, T0 + timedelta(days=1))
        # when
        with pytest.raises(CalendarAccessLost) as lost:
            await provider.get_busy([primary, "AAMkADno-such-folder"], T0, T0 + timedelta(days=1))
        # then
        assert lost.value.calendar_ids == ("AAMkADno-such-folder",)
        accounts.close()
