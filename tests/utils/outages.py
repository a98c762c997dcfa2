"""Provider outages staged in front of an emulator app."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from emulators.state import EmulatorState


class EventInsertOutage:
    """Wraps an emulator app: while `active`, creating an event answers the emulator's own 500.

    Other calls (free/busy, listing) are served normally, so a booking passes its busy check and only
    the calendar write fails.
    """

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state
        self.active = True
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.active and scope["type"] == "http" and scope["method"] == "POST" and scope["path"].endswith("/events"):
            with self.state.lock:
                self.state.faults.fail_next.insert(0, 500)
            self.refused += 1
        await self.app(scope, receive, send)
