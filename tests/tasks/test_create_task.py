from __future__ import annotations

import httpx

from meetgraph.services import Services
from tests.utils.connection import connect_oauth
from tests.utils.emulators import GOOGLE_USER, World
from tests.utils.graphql import GraphQLClient
from tests.utils.settings import save_settings
from tests.utils.task import CREATE_TASK
from tests.utils.user import create_user

LICENSED = {"hub": "SALES", "tier": "PROFESSIONAL", "paidSeat": True}


def _calendar_named(world: World, name: str) -> str | None:
    return next((c.id for c in world.google.calendars.values() if c.name == name), None)


async def test_task_sync_writes_tasks_into_a_sub_calendar(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com", **LICENSED)
    await connect_oauth(gql, http, token, "GOOGLE")
    saved = await save_settings(gql, token, taskSync=True)
    assert saved["settings"]["taskSync"] is True
    task_calendar = _calendar_named(world, "CRM tasks")
    assert task_calendar is not None
    assert world.google.role(GOOGLE_USER, task_calendar) is not None
    # when
    created = await gql(CREATE_TASK, {"input": {"title": "Call back", "due": "2026-12-03T10:00:00Z"}}, token)
    # then
    assert created["createTask"]["task"]["synced"] is True
    (event,) = world.google.calendars[task_calendar].events.values()
    assert event.summary == "Task: Call back"
    primary = world.google.account(GOOGLE_USER)
    assert primary is not None and not world.google.calendars[primary.primary_calendar_id].events


async def test_tasks_are_not_synced_while_task_sync_is_off(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com", **LICENSED)
    await connect_oauth(gql, http, token, "GOOGLE")
    # when
    created = await gql(CREATE_TASK, {"input": {"title": "Call back", "due": "2026-12-03T10:00:00Z"}}, token)
    # then
    assert created["createTask"]["task"]["synced"] is False
    assert _calendar_named(world, "CRM tasks") is None


async def test_task_needs_a_title_and_an_offset(gql: GraphQLClient, services: Services) -> None:
    _, token = await create_user(gql, "ada@example.com")
    for task, field in (
        ({"title": " ", "due": "2026-12-03T10:00:00Z"}, "title"),
        ({"title": "x", "due": "2026-12-03T10:00:00"}, "due"),
    ):
        result = (await gql(CREATE_TASK, {"input": task}, token))["createTask"]
        assert result == {"__typename": "ValidationError", "field": field}
    assert (await gql("{ me { tasks { id } } }", token=token))["me"]["tasks"] == []
