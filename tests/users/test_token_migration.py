"""Migration 0003 names the tokens made before it "initial", and the database refuses a blank or long name."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from db.migrate import upgrade
from tests.utils.databases import downgrade, empty_database


@pytest.fixture
async def engine(backend: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with empty_database(backend, tmp_path) as made:
        yield made


async def _add_token(engine: AsyncEngine, name: str | None = None) -> None:
    """A user of its own account with one token, by SQL (the models are those of the newest revision)."""
    named = ", name" if name is not None else ""
    async with engine.begin() as connection:
        ids = {"account": uuid.uuid4(), "user": uuid.uuid4(), "token": uuid.uuid4()}
        # stored as sqlmodel does: native uuids on PostgreSQL, 32 hex digits on SQLite
        values: dict[str, object] = {k: v if connection.dialect.name == "postgresql" else v.hex for k, v in ids.items()}
        values |= {"hash": ids["token"].hex, "name": name}
        await connection.execute(
            text("INSERT INTO accounts (id, created_at) VALUES (:account, CURRENT_TIMESTAMP)"), values
        )
        await connection.execute(
            text(
                "INSERT INTO users (id, account_id, email, name, timezone, personal_email_access, hub, tier,"
                " paid_seat, legacy_dual_forfeited, created_at) VALUES (:user, :account, :hash, 'U', 'UTC',"
                " true, 'NONE', 'FREE', false, false, CURRENT_TIMESTAMP)"
            ),
            values,
        )
        await connection.execute(
            text(
                f"INSERT INTO api_tokens (id, user_id, token_hash, created_at{named})"
                f" VALUES (:token, :user, :hash, CURRENT_TIMESTAMP{', :name' if named else ''})"
            ),
            values,
        )


async def test_tokens_made_before_are_named_initial_and_names_are_checked(engine: AsyncEngine) -> None:
    # given: a token made before revision 0003
    await upgrade(engine, "0002")
    await _add_token(engine)
    # when
    await upgrade(engine)
    # then
    async with engine.connect() as connection:
        rows = (await connection.execute(text("SELECT name, last_used_at FROM api_tokens"))).all()
    assert [tuple(r) for r in rows] == [("initial", None)]
    for bad in ("", "   ", "x" * 101):
        with pytest.raises(DBAPIError):  # the check, or the VARCHAR length on PostgreSQL
            await _add_token(engine, bad)
    await _add_token(engine, "x" * 100)


async def test_the_revision_goes_back_down(engine: AsyncEngine) -> None:
    # given
    await upgrade(engine)
    await _add_token(engine, "laptop")
    # when
    async with engine.begin() as connection:
        await connection.run_sync(downgrade, "0002")
    # then
    async with engine.connect() as connection:
        columns = await connection.run_sync(lambda sync: [c["name"] for c in inspect(sync).get_columns("api_tokens")])
    assert "name" not in columns and "last_used_at" not in columns
