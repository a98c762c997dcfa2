"""Exchange failures as ProviderErrors: every exchangelib error translated without library text; temporary mailbox
states (a move, a store failover) retried with back-off, never final."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import requests
from exchangelib import errors as ews_errors

from emulators.exchange import create_exchange_emulator
from emulators.runner import serve_in_thread
from emulators.state import EmulatorState
from providers.base import EventDraft, MailboxTemporarilyUnavailable, ProviderError
from providers.exchange import ExchangeCredentials, connect_exchange
from providers.exchange.errors import Transient, is_exchange_online, translate
from providers.http import RetryPolicy
from providers.outbound import OutboundPolicy
from tests.providers.harness import RecordedSleeps
from tests.utils.calendars import live_events
from tests.utils.ews_stand_ins import FailingOperation

OWNER = "owner@exchange.test"
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
RAW = "HTTPSConnectionPool(host='mail.example.com', port=443): Max retries exceeded with url: /EWS/Exchange.asmx"
LIBRARY_TEXT = ("TransportError", "HTTPSConnectionPool", "Max retries exceeded", "exchangelib", "Reraised from")


def ews_error_classes() -> list[type[Exception]]:
    return sorted(
        (
            cls
            for _, cls in inspect.getmembers(ews_errors, inspect.isclass)
            if issubclass(cls, ews_errors.EWSError) and cls.__module__ == ews_errors.__name__
        ),
        key=lambda cls: cls.__name__,
    )


def instance(cls: type[Exception]) -> Exception:
    """An instance of `cls` carrying raw library text, however its constructor wants it."""
    if issubclass(cls, ews_errors.CASError):
        return cls(cas_error=RAW, response=requests.Response())
    if issubclass(cls, (ews_errors.RedirectError, ews_errors.RelativeRedirect)):
        return cls(f"https://mail.example.com/{RAW}")
    if issubclass(cls, ews_errors.ErrorServerBusy):
        return cls(f"{cls.__name__}: {RAW}", back_off=2)
    try:
        return cls(f"{cls.__name__}: {RAW}")
    except TypeError:
        return cls(f"{cls.__name__}: {RAW}", f"{cls.__name__}: {RAW}")


@pytest.mark.parametrize("cls", ews_error_classes(), ids=lambda cls: cls.__name__)
def test_every_exchangelib_error_becomes_a_message_without_library_text(cls: type[Exception]) -> None:
    # given
    raw = instance(cls)
    # when
    translated = translate(raw)
    # then
    error = translated.error if isinstance(translated, Transient) else translated
    assert isinstance(error, ProviderError), (cls, translated)
    leaked = [text for text in (*LIBRARY_TEXT, cls.__name__, RAW) if text in error.message]
    assert not leaked, (cls.__name__, error.message)


@pytest.mark.parametrize(
    "raw",
    [
        ews_errors.TransportError(RAW),
        requests.ConnectionError(RAW),
        requests.exceptions.SSLError(RAW),
        ews_errors.ErrorTimeoutExpired(f"Reraised from ConnectionError({RAW})"),
    ],
    ids=["transport", "connection", "tls", "timeout"],
)
def test_transport_failures_become_messages_without_library_text(raw: Exception) -> None:
    translated = translate(raw)
    error = translated.error if isinstance(translated, Transient) else translated
    assert isinstance(error, ProviderError)
    assert not [text for text in (*LIBRARY_TEXT, type(raw).__name__) if text in error.message], error.message


@pytest.mark.parametrize(
    ("url", "online"),
    [
        ("https://outlook.office365.com/EWS/Exchange.asmx", True),
        ("outlook.office.com", True),
        ("https://autodiscover-s.outlook.com/autodiscover/autodiscover.svc", True),
        ("https://outlook.office365.us/EWS/Exchange.asmx", True),
        ("https://partner.outlook.cn/EWS/Exchange.asmx", True),
        ("https://mail.contoso.com/EWS/Exchange.asmx", False),
        ("https://outlook.contoso.com/EWS/Exchange.asmx", False),
        ("https://notoutlook.com/EWS/Exchange.asmx", False),
        ("https://office365.com.evil.example/EWS/Exchange.asmx", False),
    ],
)
def test_exchange_online_is_recognised_by_host_name(url: str, online: bool) -> None:
    assert is_exchange_online(url) is online


@pytest.mark.parametrize("code", ["ErrorMailboxMoveInProgress", "ErrorMailboxStoreUnavailable"])
async def test_a_temporary_mailbox_state_is_retried_with_back_off_until_it_passes(code: str) -> None:
    # given: the mailbox answers `code` to the next two CreateItems
    state = EmulatorState("x")
    account = state.seed_demo(OWNER, "Owner")
    failing = FailingOperation(create_exchange_emulator(state), "CreateItem", code, times=2)
    sleeps = RecordedSleeps()
    with serve_in_thread(failing) as base:
        credentials = ExchangeCredentials(OWNER, account.password, ews_url=f"{base}/EWS/Exchange.asmx")
        provider, _ = await connect_exchange(
            credentials,
            retry=RetryPolicy(attempts=4, sleep=sleeps),
            outbound=OutboundPolicy.parse(urlsplit(base).netloc),
        )
        try:
            # when
            draft = EventDraft("Intro", T0, T0 + timedelta(minutes=30), key="5b0e2c51-8a9c-4e43-9d3c-2f7f2b7b0a11")
            event_id = await provider.create_event(account.primary_calendar_id, draft)
        finally:
            await provider.aclose()
    # then: two refusals, two back-offs, one event (before: ProviderRequestError at once, a FAILED write)
    assert failing.failed == 2 and len(sleeps.calls) == 2 and all(s > 0 for s in sleeps.calls)
    assert event_id and len(live_events(state, account.primary_calendar_id)) == 1


async def test_a_mailbox_move_outlasting_the_retries_is_temporarily_unavailable() -> None:
    # given
    state = EmulatorState("x")
    account = state.seed_demo(OWNER, "Owner")
    failing = FailingOperation(create_exchange_emulator(state), "CreateItem", "ErrorMailboxMoveInProgress", times=99)
    with serve_in_thread(failing) as base:
        credentials = ExchangeCredentials(OWNER, account.password, ews_url=f"{base}/EWS/Exchange.asmx")
        provider, _ = await connect_exchange(
            credentials,
            retry=RetryPolicy(attempts=3, sleep=RecordedSleeps()),
            outbound=OutboundPolicy.parse(urlsplit(base).netloc),
        )
        try:
            # when / then
            draft = EventDraft("Intro", T0, T0 + timedelta(minutes=30))
            with pytest.raises(MailboxTemporarilyUnavailable) as caught:
                await provider.create_event(account.primary_calendar_id, draft)
        finally:
            await provider.aclose()
    assert failing.failed == 3
    assert "try again later" in caught.value.message
