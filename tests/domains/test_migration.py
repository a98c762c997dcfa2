"""Migration 0004 on a database with domains: each gets a verification value and starts unverified; the
unique host name becomes one claim per account and host, one verified claim per host."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from db.migrate import upgrade
from db.types import UTCDateTime
from tests.utils.databases import downgrade, empty_database

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


@pytest.fixture
async def engine(backend: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with empty_database(backend, tmp_path) as made:
        yield made


ACCOUNTS = sa.table("accounts", sa.column("id", sa.Uuid()), sa.column("created_at", UTCDateTime()))
DOMAINS = sa.table(
    "domains",
    sa.column("id", sa.Uuid()),
    sa.column("account_id", sa.Uuid()),
    sa.column("hostname", sa.String()),
    sa.column("robots_disallow_meetings", sa.Boolean()),
    sa.column("created_at", UTCDateTime()),
    sa.column("verified_at", UTCDateTime()),
)
"""The tables as the raw SQL of a test sees them, whatever revision the database is at."""


async def _account(engine: AsyncEngine) -> uuid.UUID:
    key = uuid.uuid4()
    async with engine.begin() as connection:
        await connection.execute(ACCOUNTS.insert().values(id=key, created_at=NOW))
    return key


async def _domain(engine: AsyncEngine, account: uuid.UUID, hostname: str, verified: bool = False) -> None:
    values = {"id": uuid.uuid4(), "account_id": account, "hostname": hostname, "robots_disallow_meetings": False}
    async with engine.begin() as connection:
        await connection.execute(
            DOMAINS.insert().values(created_at=NOW, **values, **({"verified_at": NOW} if verified else {}))
        )


async def test_existing_domains_get_a_value_and_start_unverified(engine: AsyncEngine) -> None:
    # given: a database before 0004 with two domains
    await upgrade(engine, "0003")
    account = await _account(engine)
    await _domain(engine, account, "meet.example.com")
    await _domain(engine, account, "book.example.com")
    # when
    await upgrade(engine)
    # then
    async with engine.connect() as connection:
        rows = (await connection.execute(text("SELECT verification_token, verified_at FROM domains"))).all()
    assert len(rows) == 2 and all(verified is None for _, verified in rows)
    assert len({token for token, _ in rows}) == 2 and all(len(token) >= 24 for token, _ in rows)


async def test_the_constraints_allow_many_claims_and_one_verified(engine: AsyncEngine) -> None:
    # given
    await upgrade(engine)
    ada, eve, mallory = await _account(engine), await _account(engine), await _account(engine)
    await _domain(engine, ada, "meet.example.com", verified=True)
    # when / then: other accounts' unverified claims are fine
    await _domain(engine, eve, "meet.example.com")
    await _domain(engine, mallory, "meet.example.com")
    # when / then: a second verified claim, or the same account twice, is not
    with pytest.raises(IntegrityError):
        await _domain(engine, eve, "meet.example.com", verified=True)
    with pytest.raises(IntegrityError):
        await _domain(engine, ada, "meet.example.com")


async def test_downgrade_restores_the_unique_host_name(engine: AsyncEngine) -> None:
    # given
    await upgrade(engine)
    account = await _account(engine)
    await _domain(engine, account, "meet.example.com", verified=True)
    # when
    async with engine.begin() as connection:
        await connection.run_sync(downgrade, "0003")
    # then
    with pytest.raises(IntegrityError):
        await _domain(engine, await _account(engine), "meet.example.com")
    await upgrade(engine)
