"""What each provider's test harness hands the shared provider suite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from emulators.state import EmulatedEvent, EmulatorState
from providers.base import CalendarProvider
from providers.http import RetryPolicy


@dataclass
class RecordedSleeps:
    """Stands in for asyncio.sleep so retry tests never wait."""

    calls: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@dataclass
class Harness:
    """A provider connected, over real HTTP, to its emulator seeded with EmulatorState.seed_demo."""

    name: str
    provider: CalendarProvider
    state: EmulatorState
    account_email: str
    primary_id: str
    """Provider-side id of the account's primary calendar."""
    second_id: str
    """Another calendar the account owns."""
    reader_share_id: str | None
    """A colleague's calendar shared with full event details (None where the provider lists no shares)."""
    freebusy_share_id: str | None
    """A colleague's calendar shared free/busy only (None where the provider lists no shares)."""
    sleeps: RecordedSleeps
    set_client_timeout: Callable[[float], None]
    """Sets the provider's HTTP read timeout in seconds (to let a held-back answer time out)."""
    emulator_calendar_id: Callable[[str], str] = lambda provider_id: provider_id
    """Maps a provider-side calendar id to the EmulatorState calendar id (identity unless the wire ids differ)."""

    def live_events(self, calendar_id: str) -> list[EmulatedEvent]:
        """The not-cancelled events of a calendar given by its provider-side id, as the emulator holds them."""
        return self.state.live_events(self.emulator_calendar_id(calendar_id))


HarnessFactory = Callable[[RetryPolicy], AbstractAsyncContextManager[Harness]]
AsyncHarness = AsyncIterator[Harness]
