"""Client mistakes are logged at INFO on one line without a traceback; unexpected errors at ERROR with one."""

from __future__ import annotations

import logging

import pytest

from tests.utils.errors import CLIENT_MISTAKES, SETTINGS_OF_ME
from tests.utils.graphql import GraphQLClient
from tests.utils.page import create_page
from tests.utils.user import create_user

MAX_LINE_BYTES = 400
"""A client mistake's log line: the code, where, and the message (strawberry's default wrote ~2 KB)."""


@pytest.mark.parametrize("mistake", list(CLIENT_MISTAKES))
async def test_a_client_mistake_is_one_info_line(
    gql: GraphQLClient, caplog: pytest.LogCaptureFixture, mistake: str
) -> None:
    # given
    query, variables, code = CLIENT_MISTAKES[mistake]
    _, token = await create_user(gql, "ada@example.com")
    page = await create_page(gql, token)
    variables = {k: page["slug"] if v == "PAGE" else v for k, v in variables.items()}
    caplog.set_level(logging.INFO)
    caplog.clear()
    # when
    await gql.raw(query, variables)
    # then
    records = [r for r in caplog.records if r.name.startswith(("meetgraph", "strawberry"))]
    assert [(r.levelno, r.name) for r in records] == [(logging.INFO, "meetgraph.graphql")], caplog.text
    (record,) = records
    line = caplog.handler.format(record)
    assert record.exc_info is None and "\n" not in line and len(line.encode()) < MAX_LINE_BYTES, line
    assert record.getMessage().startswith(code), line


async def test_an_unexpected_error_is_logged_at_error_with_its_traceback(
    gql: GraphQLClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")

    async def broken(*_: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("resolvers.settings.settings_for", broken)
    caplog.set_level(logging.INFO)
    caplog.clear()
    # when
    await gql.raw(SETTINGS_OF_ME, token=token)
    # then
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, caplog.text
    assert errors[0].name == "meetgraph.graphql" and "me.calendarSettings" in errors[0].getMessage()
    assert errors[0].exc_info is not None and isinstance(errors[0].exc_info[1], RuntimeError)
