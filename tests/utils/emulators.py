"""One emulator server per test session; each test gets fresh Google, Microsoft and Exchange worlds."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from emulators.exchange import create_exchange_emulator
from emulators.google import create_google_emulator
from emulators.microsoft import create_microsoft_emulator
from emulators.state import EmulatorState

GOOGLE_USER = "owner@gmail.test"
MICROSOFT_USER = "owner@outlook.test"
EXCHANGE_USER = "owner@exchange.test"
EXCHANGE_PASSWORD = "app-password"


class Switch:
    """An ASGI app that forwards to whichever app is current, so a running server can change worlds."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "no emulator world installed"
        await self.app(scope, receive, send)


@dataclass
class World:
    google: EmulatorState
    microsoft: EmulatorState
    exchange: EmulatorState
    google_app: Starlette
    microsoft_app: Starlette
    exchange_app: Starlette


class EmulatorServer:
    def __init__(self) -> None:
        self.google = Switch()
        self.microsoft = Switch()
        self.exchange = Switch()
        self.app = Starlette(
            routes=[
                Mount("/_emulators/google", app=self.google),
                Mount("/_emulators/microsoft", app=self.microsoft),
                Mount("/_emulators/exchange", app=self.exchange),
            ]
        )

    def new_world(self, *, exchange_version: str = "Exchange2016") -> World:
        google, microsoft, exchange = EmulatorState("g"), EmulatorState("m"), EmulatorState("x")
        google.seed_demo(GOOGLE_USER, "Owner (Google)")
        microsoft.seed_demo(MICROSOFT_USER, "Owner (Office 365)")
        exchange.seed_demo(EXCHANGE_USER, "Owner (Exchange)")
        world = World(
            google=google,
            microsoft=microsoft,
            exchange=exchange,
            google_app=create_google_emulator(google),
            microsoft_app=create_microsoft_emulator(microsoft),
            exchange_app=create_exchange_emulator(exchange, server_version=exchange_version),
        )
        self.install(world)
        return world

    def install(self, world: World) -> None:
        self.google.app = world.google_app
        self.microsoft.app = world.microsoft_app
        self.exchange.app = world.exchange_app
