"""`python -m tests.sync.engine.scripted_server <meetgraph command> ...`: the meetgraph CLI with the engine's
providers replaced by a scripted one whose calendars hold the events listed in the JSON file named by
SYNC_SCRIPT_FILE (for crash tests with real processes; the emulators' sync arrives with the provider branches)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from db.models import CalendarConnection
from meetgraph import providers
from meetgraph.cli import main
from meetgraph.services import Services
from providers.base import CalendarProvider
from tests.sync.engine.scripted import Script, ScriptedProvider, event

SCRIPT_ENV = "SYNC_SCRIPT_FILE"


def write_script(path: Path, events: list[tuple[str, datetime]]) -> None:
    path.write_text(json.dumps([[event_id, start.isoformat()] for event_id, start in events]))


def _script() -> Script:
    script = Script(clock=lambda: datetime.now().astimezone())
    for event_id, start in json.loads(Path(os.environ[SCRIPT_ENV]).read_text()):
        script.put("*", event(event_id, datetime.fromisoformat(start)))
    return script


class AnyCalendar(ScriptedProvider):
    """Every calendar holds the script's events."""

    async def sync_events(self, calendar_id: str, cursor: str | None, window_start: datetime, window_end: datetime):  # type: ignore[no-untyped-def]
        return await super().sync_events("*", cursor, window_start, window_end)


if __name__ == "__main__":
    script = _script()

    @asynccontextmanager
    async def provider_for(
        connection: CalendarConnection, services: Services, primary_calendar_id: str | None = None
    ) -> AsyncIterator[CalendarProvider]:
        yield AnyCalendar(script, connection)

    providers.provider_for = provider_for  # type: ignore[assignment]
    sys.exit(main(sys.argv[1:]))
