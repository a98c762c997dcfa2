"""Mount the three emulators inside the main app (`meetgraph serve --emulators`), seeded for a demo."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount

from emulators.control import with_control
from emulators.state import EmulatorState

DEMO_GOOGLE = "demo@gmail.test"
DEMO_MICROSOFT = "demo@outlook.test"
DEMO_EXCHANGE = "demo@exchange.test"
DEMO_PASSWORD = "app-password"


def emulator_mounts() -> list[BaseRoute]:
    """The three emulators with their demo accounts, each with a control surface at <mount>/_control."""
    from emulators.exchange import create_exchange_emulator
    from emulators.google import create_google_emulator
    from emulators.microsoft import create_microsoft_emulator

    google = EmulatorState("g")
    google.seed_demo(DEMO_GOOGLE, "Demo (Google)")
    microsoft = EmulatorState("m")
    microsoft.seed_demo(DEMO_MICROSOFT, "Demo (Office 365)")
    exchange = EmulatorState("x")
    exchange.seed_demo(DEMO_EXCHANGE, "Demo (Exchange)")
    return [
        Mount("/_emulators/google", app=with_control(create_google_emulator(google), google)),
        Mount("/_emulators/microsoft", app=with_control(create_microsoft_emulator(microsoft), microsoft)),
        Mount("/_emulators/exchange", app=with_control(create_exchange_emulator(exchange), exchange)),
    ]
