"""The README's walk-through followed literally, with real processes: `make run` (serve --emulators in the
project directory, dev secret and ./meetgraph.db made there), `meetgraph create-user` in another shell,
GraphiQL's requests, the emulators' control surface. Nothing is configured but what the README says."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from emulators.mount import DEMO_GOOGLE
from tests.utils.connection import connect_oauth
from tests.utils.graphql import GraphQLClient
from tests.utils.meeting import BOOK, booking_input
from tests.utils.page import ALL_WEEK, AVAILABLE_SLOTS, create_page
from tests.utils.processes import WAIT_TIMEOUT, Process
from tests.utils.settings import save_settings_ok

ME = "{ me { email calendarConnections { calendars { id name } } } }"


@dataclass
class Newcomer:
    project: Path
    elsewhere: Path
    server: Process
    gql: GraphQLClient
    http: httpx.AsyncClient

    async def create_user(self, where: Path, email: str, **env: str) -> subprocess.CompletedProcess[str]:
        """`meetgraph create-user` in `where`, with the shell's environment (no MEETGRAPH_* unless given)."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("MEETGRAPH_")}
        return await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "meetgraph.cli", "create-user", "--email", email, "--name", "Ada Lovelace"],
            env={**inherited, **env},
            cwd=where,
            capture_output=True,
            text=True,
            timeout=WAIT_TIMEOUT,
        )


@pytest.fixture
async def newcomer(tmp_path: Path) -> AsyncIterator[Newcomer]:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    server = Process("serve", {}, project, "make-run", options=("--emulators",))
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT_TIMEOUT) as http:
            yield Newcomer(project, elsewhere, server, GraphQLClient(http), http)
    finally:
        server.kill()


def id_and_token(stdout: str) -> tuple[str, str]:
    """create-user's whole output: the id and the token, nothing else."""
    lines = stdout.splitlines()
    assert [line.split("=", 1)[0] for line in lines] == ["user_id", "token"], stdout
    user_id, token = (line.split("=", 1)[1] for line in lines)
    uuid.UUID(user_id)
    assert token.startswith("mg_")
    return user_id, token


async def test_create_user_outside_the_project_refuses_and_creates_nothing(newcomer: Newcomer) -> None:
    # when
    done = await newcomer.create_user(newcomer.elsewhere, "ada@example.com")

    # then
    assert done.returncode != 0
    assert done.stdout == ""
    assert str(newcomer.elsewhere / "meetgraph.db") in done.stderr and "MEETGRAPH_DATABASE_URL" in done.stderr
    assert list(newcomer.elsewhere.iterdir()) == []


async def test_create_user_in_the_project_prints_only_a_token_the_running_server_accepts(newcomer: Newcomer) -> None:
    # when
    done = await newcomer.create_user(newcomer.project, "ada@example.com")

    # then
    assert done.returncode == 0, done.stderr
    assert "alembic" not in done.stderr.lower()
    _, token = id_and_token(done.stdout)
    assert (await newcomer.gql(ME, token=token))["me"]["email"] == "ada@example.com"


async def test_create_user_elsewhere_with_the_servers_database_url_works_and_leaves_no_files(
    newcomer: Newcomer,
) -> None:
    # when
    database = f"sqlite+aiosqlite:///{newcomer.project / 'meetgraph.db'}"
    done = await newcomer.create_user(newcomer.elsewhere, "ada@example.com", MEETGRAPH_DATABASE_URL=database)

    # then
    assert done.returncode == 0, done.stderr
    _, token = id_and_token(done.stdout)
    assert (await newcomer.gql(ME, token=token))["me"]["email"] == "ada@example.com"
    assert list(newcomer.elsewhere.iterdir()) == []


async def test_the_walkthrough_connects_books_and_loses_access_through_the_control_surface(
    newcomer: Newcomer,
) -> None:
    # given: steps 1-4 (a user, the demo Google account, Team events as availability calendar, a page)
    done = await newcomer.create_user(newcomer.project, "ada@example.com")
    _, token = id_and_token(done.stdout)
    outcome = await connect_oauth(newcomer.gql, newcomer.http, token, "GOOGLE")
    assert "connected" in outcome, outcome
    calendars = (await newcomer.gql(ME, token=token))["me"]["calendarConnections"][0]["calendars"]
    team = next(c["id"] for c in calendars if c["name"] == "Team events")
    await save_settings_ok(newcomer.gql, token, availabilityCalendarIds=[team])
    page = await create_page(newcomer.gql, token, name="Intro call", timezone="Europe/Berlin", weeklyHours=ALL_WEEK)
    # step 5: the slots of the coming week, as a visitor
    now = datetime.now(UTC)
    window = {"slug": page["slug"], "start": now.isoformat(), "end": (now + timedelta(days=7)).isoformat()}
    first, second = (await newcomer.gql(AVAILABLE_SLOTS, window))["schedulingPage"]["availableSlots"][:2]
    booked = await newcomer.gql(BOOK, booking_input(page["slug"], datetime.fromisoformat(first["start"])))

    # when: step 7, losing access to the calendar by the name the API shows
    control = f"{newcomer.server.url}/_emulators/google/_control"
    lost = await newcomer.http.post(f"{control}/access", json={"email": DEMO_GOOGLE, "calendar": "Team events"})
    blocked = await newcomer.gql(BOOK, booking_input(page["slug"], datetime.fromisoformat(second["start"])))

    # then
    assert booked["bookMeeting"]["__typename"] == "BookMeetingSuccess", booked
    assert lost.status_code == 200, lost.text
    assert blocked["bookMeeting"]["__typename"] == "CalendarAccessLostError", blocked
