"""Rotating MEETGRAPH_SECRET_KEY with real `meetgraph serve` and `meetgraph rotate-secret` processes: the previous
key keeps stored credentials (and OAuth flows in progress) readable until rotate-secret has re-encrypted them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import select

from db.models import CalendarConnection
from tests.processes.conftest import processes  # noqa: F401 (the fixture, shared with the process tests)
from tests.utils.connection import consent, oauth_callback, open_authorization, start_connection
from tests.utils.emulators import World
from tests.utils.graphql import GraphQLClient, iso
from tests.utils.meeting import future_slots
from tests.utils.page import AVAILABLE_SLOTS, PageOwner, page_owner
from tests.utils.processes import Process, Processes
from tests.utils.user import create_user, me

KEY_A = "rotation-test-key-A-0123456789"
KEY_B = "rotation-test-key-B-0123456789"


async def _slots(process: Process, slug: str, *, days_ahead: int = 0) -> dict[str, Any]:
    """The page's slots for tomorrow (or `days_ahead` days later), as a visitor asks: the server reads the owner's
    calendar with the stored credentials, or from the event store a sync filled with them."""
    start = future_slots(1)[0] + timedelta(days=days_ahead)
    variables = {"slug": slug, "start": iso(start), "end": iso(start + timedelta(hours=4))}
    async with process.client() as http:
        return await GraphQLClient(http).raw(AVAILABLE_SLOTS, variables)


async def _restart(server: Process, **env: str | None) -> None:
    server.terminate()
    await server.exited()
    await server.start(**env)


async def _owner_under_key_a(processes: Processes) -> tuple[Process, PageOwner]:  # noqa: F811
    """A server on key A, and a page owner whose Google credentials it stored."""
    server = await processes.server(MEETGRAPH_SECRET_KEY=KEY_A).start()
    async with server.client() as http:
        return server, await page_owner(GraphQLClient(http), http)


async def test_rotation_keeps_credentials_readable_and_then_the_new_key_alone_reads_them(
    processes: Processes,  # noqa: F811
    world: World,
) -> None:
    # given: a connection stored under key A, and a second user's flow opened under key A
    server, owner = await _owner_under_key_a(processes)
    async with server.client() as browser:
        _, second = await create_user(GraphQLClient(browser), "bob@example.com")
        at_provider = await open_authorization(browser, await start_connection(GraphQLClient(browser), second))
        # when: restarted with key B, A as the previous key
        await _restart(server, MEETGRAPH_SECRET_KEY=KEY_B, MEETGRAPH_SECRET_KEY_PREVIOUS=KEY_A)
        # then: what A wrote is read (a window beyond the event store's span: the calendar is read live), and the
        # flow signed under A completes
        assert "errors" not in await _slots(server, owner.slug, days_ahead=100)
        assert "connected" in await oauth_callback(browser, await consent(at_provider))
        assert len((await me(GraphQLClient(browser), second))["calendarConnections"]) == 1

    # when: rotate-secret, twice
    rotate = {"MEETGRAPH_SECRET_KEY": KEY_B, "MEETGRAPH_SECRET_KEY_PREVIOUS": KEY_A}
    first, again = await processes.cli("rotate-secret", env=rotate), await processes.cli("rotate-secret", env=rotate)
    # then: the one A wrote is re-encrypted, the second run has nothing left to do
    assert (first.returncode, first.stdout.split()) == (
        0,
        ["re-encrypted=1", "already_current=1", "changed_meanwhile=0"],
    )
    assert again.stdout.split() == ["re-encrypted=0", "already_current=2", "changed_meanwhile=0"], again

    # when: key B alone
    await _restart(server, MEETGRAPH_SECRET_KEY=KEY_B, MEETGRAPH_SECRET_KEY_PREVIOUS=None)
    # then
    assert "errors" not in await _slots(server, owner.slug, days_ahead=100)
    assert "cannot be decrypted" not in server.output()


async def test_a_wrong_key_is_told_clearly_and_rotate_secret_changes_nothing(
    processes: Processes,  # noqa: F811
    world: World,
) -> None:
    # given: a connection stored under key A
    server, owner = await _owner_under_key_a(processes)
    stored = await _credentials(processes)
    # when: the server and rotate-secret run with key B and without the previous key
    await _restart(server, MEETGRAPH_SECRET_KEY=KEY_B, MEETGRAPH_SECRET_KEY_PREVIOUS=None)
    refused = await processes.cli("rotate-secret", env={"MEETGRAPH_SECRET_KEY": KEY_B})
    # then: one clear line each, no traceback, nothing rewritten
    assert "1 of the recently stored calendar credentials cannot be decrypted" in server.output()
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "decrypt with neither MEETGRAPH_SECRET_KEY nor MEETGRAPH_SECRET_KEY_PREVIOUS" in refused.stderr
    assert "Nothing was changed" in refused.stderr and refused.stdout == ""
    assert await _credentials(processes) == stored
    # and availability the server must read from the calendar fails (it cannot decrypt the credentials) until the
    # right key is back: a window beyond what a sync may have stored (MEETGRAPH_SYNC_WINDOW_DAYS, 90) is read live
    assert "errors" in await _slots(server, owner.slug, days_ahead=100)


async def _credentials(made: Processes) -> list[str]:
    return await made.rows(select(CalendarConnection.credentials))
