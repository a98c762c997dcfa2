"""Migration 0007 on a database with connections: existing ones get no reason (null), the reasons are stored,
and the downgrade drops the column and keeps the connections."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.migrate import upgrade
from db.types import UTCDateTime
from tests.utils.databases import downgrade, empty_database

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)

ACCOUNTS = sa.table("accounts", sa.column("id", sa.Uuid()), sa.column("created_at", UTCDateTime()))
USERS = sa.table(
    "users",
    *(sa.column(name, sa.Uuid()) for name in ("id", "account_id")),
    *(sa.column(name, sa.String()) for name in ("email", "name", "timezone", "hub", "tier")),
    *(sa.column(name, sa.Boolean()) for name in ("personal_email_access", "paid_seat", "legacy_dual_forfeited")),
    sa.column("created_at", UTCDateTime()),
)
CONNECTIONS = sa.table(
    "calendar_connections",
    *(sa.column(name, sa.Uuid()) for name in ("id", "user_id")),
    sa.column("slot", sa.Integer()),
    *(sa.column(name, sa.String()) for name in ("provider", "email", "status", "credentials")),
    sa.column("created_at", UTCDateTime()),
)
"""The tables as the raw SQL of a test sees them, whatever revision the database is at."""


@pytest.fixture
async def engine(backend: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with empty_database(backend, tmp_path) as made:
        yield made


async def _connection(engine: AsyncEngine, status: str = "ACTIVE") -> uuid.UUID:
    account, user, key = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with engine.begin() as connection:
        await connection.execute(ACCOUNTS.insert().values(id=account, created_at=NOW))
        await connection.execute(
            USERS.insert().values(
                id=user,
                account_id=account,
                email=f"{user}@example.com",
                name="Ada",
                timezone="UTC",
                hub="NONE",
                tier="FREE",
                personal_email_access=True,
                paid_seat=False,
                legacy_dual_forfeited=False,
                created_at=NOW,
            )  # fmt: skip
        )
        await connection.execute(
            CONNECTIONS.insert().values(
                id=key,
                user_id=user,
                slot=1,
                provider="EXCHANGE",
                email="ada@exchange.test",
                status=status,
                credentials="encrypted",
                created_at=NOW,
            )  # fmt: skip
        )
    return key


async def _reasons(engine: AsyncEngine) -> dict[uuid.UUID, str | None]:
    async with engine.connect() as connection:
        rows = (await connection.execute(text("SELECT id, inactive_reason FROM calendar_connections"))).all()
    return {uuid.UUID(str(key)): reason for key, reason in rows}


async def test_existing_connections_get_no_reason_and_reasons_are_stored(engine: AsyncEngine) -> None:
    # given: a database before 0007 with an active and an inactive connection
    await upgrade(engine, "0006")
    active, inactive = await _connection(engine), await _connection(engine, "INACTIVE")
    # when
    await upgrade(engine)
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE calendar_connections SET inactive_reason = 'PASSWORD_REFUSED' WHERE id = :id"),
            {"id": inactive.hex if engine.dialect.name == "sqlite" else inactive},
        )
    # then
    assert await _reasons(engine) == {active: None, inactive: "PASSWORD_REFUSED"}


async def test_downgrade_drops_the_reason_and_keeps_the_connections(engine: AsyncEngine) -> None:
    # given
    await upgrade(engine)
    key = await _connection(engine, "INACTIVE")
    # when
    async with engine.begin() as connection:
        await connection.run_sync(downgrade, "0006")
    # then
    async with engine.connect() as connection:
        rows = (await connection.execute(text("SELECT id, status FROM calendar_connections"))).all()
        columns = await connection.run_sync(lambda sync: sa.inspect(sync).get_columns("calendar_connections"))
    assert [(uuid.UUID(str(k)), s) for k, s in rows] == [(key, "INACTIVE")]
    assert "inactive_reason" not in {c["name"] for c in columns}
    await upgrade(engine)
    assert await _reasons(engine) == {key: None}
