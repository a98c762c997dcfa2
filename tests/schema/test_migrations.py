"""The Alembic migrations build exactly the tables the models declare (no drift in either direction)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import db.models  # noqa: F401
from meetgraph.services import Services


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


async def test_migrated_database_matches_the_models(services: Services) -> None:
    async with services.engine.connect() as connection:
        differences = await connection.run_sync(_diff)
    assert differences == []
