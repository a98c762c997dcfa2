"""Async engine and sessions; SQLite gets WAL, foreign keys, a busy timeout and owner-only files."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

IMMEDIATE = "meetgraph_write_transaction"


async def begin_write(session: AsyncSession) -> None:
    """Start the session's transaction as a writer (BEGIN IMMEDIATE on SQLite; nothing special elsewhere)."""
    if not session.in_transaction():
        await session.connection(execution_options={IMMEDIATE: True})


SQLITE_FILES = ("", "-wal", "-shm", "-journal")
"""The database file and the files SQLite keeps beside it (they take the database file's mode when created)."""


def _owner_only_sqlite_files(url: str) -> None:
    """Create the database file owner-only (0600) before SQLite does (0644 under the usual umask), and tighten
    the files an earlier version left readable by others: they hold users, tokens' hashes and credentials."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for suffix in SQLITE_FILES:
        file = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, pool_size=8, max_overflow=16, **kwargs)

        @event.listens_for(engine.sync_engine, "do_connect")
        def _sqlite_file_modes(*_: Any) -> None:
            _owner_only_sqlite_files(url)  # before SQLite opens (and maybe creates) the file

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, decide where transactions begin (SQLAlchemy's aiosqlite recipe).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # A transaction that will write takes the write lock at BEGIN: upgrading a read snapshot
            # to a writer later fails at once ("database is locked") if another writer got in between.
            immediate = conn.get_execution_options().get(IMMEDIATE, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False, autoflush=False)
