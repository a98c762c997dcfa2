"""Exchange (EWS, through exchangelib) calendar provider.

exchangelib is synchronous: every call runs in a thread of the Exchange runtime (session.ExchangeRuntime: its own
bounded pool, a limit and a circuit breaker per EWS endpoint), never asyncio's shared pool. exchangelib itself fails fast (its FailFast policy,
bounded HTTP timeouts): it never sends a request twice (its FaultTolerance policy would re-send a timed-out
CreateItem after a back-off). Retries and back-off are ours, driven by the RetryPolicy and its injected `sleep`, and
a create is only retried in a way that cannot duplicate it (see ExchangeCalendarProvider.create_event).

Modules: credentials (what the user typed), errors (failures as typed ProviderErrors, from what the server
answered), session (the runtime, exchangelib sessions, opened accounts, cached autodiscover), view (busy time from
CalendarView, page by page), sync (polling a calendar with SyncFolderItems, the window read again only when it
changed), provider (one mailbox as a CalendarProvider), shared (another mailbox's calendar by address), connect
(checking an account before it is stored; Exchange Online refused before any network call).
"""

from __future__ import annotations

from providers.exchange.connect import UNREACHABLE_MESSAGE, connect_exchange
from providers.exchange.credentials import ExchangeCredentials
from providers.exchange.provider import ExchangeCalendarProvider
from providers.exchange.session import ExchangeAccounts

__all__ = [
    "UNREACHABLE_MESSAGE",
    "ExchangeAccounts",
    "ExchangeCalendarProvider",
    "ExchangeCredentials",
    "connect_exchange",
]
