"""Unexpected errors are masked per request: under concurrent failing requests none leaks, on a live server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.utils.live import Live
from tests.utils.page import create_page
from tests.utils.user import create_user

SETTINGS_OF_ME = "{ me { calendarSettings { pagesActive } } }"
"""Fails unexpectedly while settings_for is broken."""

WINDOW_BACKWARDS = """query($slug: String!) { schedulingPage(slug: $slug) {
  name availableSlots(start: "2026-12-02T00:00:00Z", end: "2026-12-01T00:00:00Z") { start } } }"""
"""Fails as expected: a BAD_USER_INPUT error the client must see."""

PAGE_BY_SLUG = "query($slug: String!) { schedulingPage(slug: $slug) { name } }"
"""Fails inside PostgreSQL when the slug holds a NUL character: its error quotes the SQL."""

INTERNALS = ("secret", "SELECT", "sqlalchemy", "asyncpg", "Traceback", "RuntimeError")


async def test_sixty_concurrent_failures_are_each_masked(
    live: Live, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    _, token = await create_user(live.gql, "ada@example.com")
    page = await create_page(live.gql, token)

    async def broken(*_: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("resolvers.settings.settings_for", broken)
    kinds = ["unexpected", "expected"] + (["sql"] if backend == "postgres" else [])

    async def ask(kind: str) -> tuple[str, dict[str, Any]]:
        if kind == "unexpected":
            return kind, await live.gql.raw(SETTINGS_OF_ME, token=token)
        if kind == "sql":
            return kind, await live.gql.raw(PAGE_BY_SLUG, {"slug": "intro\u0000call"})
        return kind, await live.gql.raw(WINDOW_BACKWARDS, {"slug": page["slug"]})

    # when
    answers = await asyncio.gather(*(ask(kinds[i % len(kinds)]) for i in range(60)))
    # then
    for kind, body in answers:
        text = json.dumps(body)
        assert not any(word in text for word in INTERNALS), body
        messages = [error["message"] for error in body["errors"]]
        if kind == "expected":
            assert messages == ["end must be after start"], body
            assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        else:
            assert messages == ["Unexpected error."], body
