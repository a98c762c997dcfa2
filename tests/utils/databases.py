"""Fresh databases per test: a migrated SQLite template copied per test, or a truncated PostgreSQL schema."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

import db.models  # noqa: F401
from db.engine import make_engine
from db.migrate import alembic_config, upgrade

POSTGRES_ENV = "MEETGRAPH_TEST_POSTGRES_URL"
PG_SCHEMA = f"meetgraph_test_{os.getpid()}"
"""One schema per test process, so concurrent runs against one database never share tables."""


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def asyncpg_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def pg_engine(url: str) -> AsyncEngine:
    return make_engine(asyncpg_url(url), connect_args={"server_settings": {"search_path": PG_SCHEMA}})


class TemplateDatabases:
    """Migrates once per test session; hands each test a clean database."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.sqlite_template: Path | None = None
        self.pg_ready = False

    async def sqlite_url(self, target: Path) -> str:
        if self.sqlite_template is None:
            template = self.workdir / "template.db"
            await self._migrate_sqlite(template)
            self.sqlite_template = template
        shutil.copyfile(self.sqlite_template, target)
        return f"sqlite+aiosqlite:///{target}"

    async def _migrate_sqlite(self, path: Path) -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade(engine)
        async with engine.begin() as connection:
            await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        await engine.dispose()

    async def reset_postgres(self, url: str) -> None:
        if not self.pg_ready:
            admin = make_engine(asyncpg_url(url))
            async with admin.begin() as connection:
                await connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
                await connection.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
            await admin.dispose()
            engine = pg_engine(url)
            await upgrade(engine)
            await engine.dispose()
            self.pg_ready = True
        engine = pg_engine(url)
        tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} CASCADE"))
        await engine.dispose()

    async def drop_postgres(self, url: str) -> None:
        if not self.pg_ready:
            return
        admin = make_engine(asyncpg_url(url))
        async with admin.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        await admin.dispose()


MIGRATION_SCHEMA = f"meetgraph_migration_{os.getpid()}"
"""PostgreSQL: a schema of the migration tests' own, so migrating back and forth never touches the shared tables."""


@asynccontextmanager
async def empty_database(backend: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on a database with no tables (a SQLite file, or a PostgreSQL schema of its own), for tests that
    migrate step by step; dropped afterwards."""
    if backend == "sqlite":
        made = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'migration.db'}")
        try:
            yield made
        finally:
            await made.dispose()
        return
    url = postgres_url()
    assert url
    admin = make_engine(asyncpg_url(url))
    async with admin.begin() as connection:
        await connection.execute(text(f"DROP SCHEMA IF EXISTS {MIGRATION_SCHEMA} CASCADE"))
        await connection.execute(text(f"CREATE SCHEMA {MIGRATION_SCHEMA}"))
    made = make_engine(asyncpg_url(url), connect_args={"server_settings": {"search_path": MIGRATION_SCHEMA}})
    try:
        yield made
    finally:
        await made.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA IF EXISTS {MIGRATION_SCHEMA} CASCADE"))
        await admin.dispose()


def downgrade(connection: Connection, revision: str) -> None:
    """Alembic's downgrade on an open connection (for `connection.run_sync`)."""
    command.downgrade(alembic_config(connection), revision)
