"""Exchange traffic staged in front of the emulator: sign-ins counted as the server sees them (every request that
carried credentials, and those it refused), and an outage of CreateItem alone."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulators.state import EmulatorState
from tests.utils.emulators import EmulatorServer, World

NTLM_AUTHENTICATE = 3
"""The NTLM message type that carries the proof of the password (1 negotiates, 2 is the server's challenge)."""


def signs_in(authorization: bytes) -> bool:
    """Whether an Authorization header presents the password: Basic, or NTLM's AUTHENTICATE message (an NTLM
    NEGOTIATE is answered with the challenge, a 401 that refuses nothing)."""
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    if scheme.lower() == "basic":
        return True
    if scheme.lower() not in ("ntlm", "negotiate"):
        return False
    try:
        message = base64.b64decode(token.strip())
    except (binascii.Error, ValueError):
        return False
    return message.startswith(b"NTLMSSP\0") and len(message) >= 12 and message[8] == NTLM_AUTHENTICATE


@dataclass
class LoginCounter:
    """ASGI middleware in front of the Exchange emulator: counts sign-ins (requests presenting the password:
    Basic, or NTLM's AUTHENTICATE) and the 401 answers to them (refused sign-ins, what Active Directory counts
    towards a lockout)."""

    app: ASGIApp
    attempts: int = 0
    refused: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        signs_in_now = scope["type"] == "http" and any(
            k.lower() == b"authorization" and signs_in(v) for k, v in scope["headers"]
        )
        if signs_in_now:
            self.attempts += 1

        async def observed(message: Message) -> None:
            if signs_in_now and message["type"] == "http.response.start" and message["status"] == 401:
                self.refused += 1
            await send(message)

        await self.app(scope, receive, observed)


@dataclass
class CreateItemOutage:
    """Wraps the Exchange emulator: while `active`, a CreateItem request answers the emulator's own 503 (after
    its sign-in is checked); FindItem and the rest are served, so a booking passes its busy check and only the
    calendar write fails."""

    app: ASGIApp
    state: EmulatorState
    active: bool = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.active or scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        read: list[Message] = []
        while not read or read[-1].get("more_body", False):
            read.append(await receive())
        if b"CreateItem" in b"".join(m.get("body", b"") for m in read):
            with self.state.lock:
                self.state.faults.fail_next.insert(0, 503)

        async def replay() -> Message:
            return read.pop(0) if read else await receive()

        await self.app(scope, replay, send)


def count_logins(server: EmulatorServer, world: World) -> tuple[LoginCounter, CreateItemOutage]:
    """Put a LoginCounter, and behind it an (inactive) CreateItemOutage, in front of the world's Exchange emulator
    (installed in `server`)."""
    outage = CreateItemOutage(world.exchange_app, world.exchange)
    counter = LoginCounter(outage)
    server.exchange.app = counter
    return counter, outage
