"""A create the server stored but whose answer the client never gets (Faults.lose_next_create).

The three emulators call `deliver` with the answer of an event create they have already stored; when a lost answer
is armed it is held back past the client's timeout, cut off mid-answer, or replaced by the provider's 503.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from emulators.state import EmulatorState


class DroppedConnection(Response):
    """Starts a 200 answer, then fails before its body: the server closes the connection mid-answer."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"512")]})
        raise ConnectionAbortedError("emulated: connection dropped after the create was stored")


async def deliver(state: EmulatorState, answer: Response, unavailable: Callable[[], Response]) -> Response:
    """`answer` to a stored create, or the lost answer armed in `state.faults` (taken once)."""
    with state.lock:
        mode = state.faults.take_lost_answer()
    if mode == "timeout":
        await asyncio.sleep(state.faults.lost_answer_delay_seconds)
        return answer
    if mode == "disconnect":
        return DroppedConnection()
    if mode == "503":
        return unavailable()
    return answer
