"""The async database: engine set-up per backend, units of work, and schema migration.

Stores take the caller's `AsyncConnection`; services open a `UnitOfWork` for each business
operation, so a state change, its idempotency record and its outbox event commit together
or not at all.

On SQLite a write transaction starts with `BEGIN IMMEDIATE`: it takes the write lock up
front, so two writers queue on the busy timeout instead of deadlocking when both upgrade a
read lock. Within one process, writers first queue on an asyncio lock: SQLite's busy handler
waits by sleeping (up to 100 ms a try), which under concurrent writes costs far more than
the writes themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from gateway.files import create_private_file

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
_WRITE = "obgw.write"

BUSY_TIMEOUT_MS = 5_000
UPGRADE_WAIT_MS = 120_000


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver must not open transactions itself: `_sqlite_begin` does, with the right mode.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # First, so that switching a new file to WAL waits for a connection that holds a lock.
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    is_write = connection.info.pop(_WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if is_write else "BEGIN")


def alembic_config() -> Config:
    """An Alembic configuration pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


class UnitOfWork:
    """One transaction: the connection every store in it uses, and work for after commit."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the transaction has committed (never if it rolls back)."""
        self._after_commit.append(callback)


class Database:
    """One async engine for the process; SQLite in WAL mode or PostgreSQL via asyncpg."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = sa.engine.make_url(url).database
            if path and path != ":memory:" and not path.startswith("file:"):
                # SQLite creates its `-wal` and `-shm` files with the database's mode: an
                # empty file made 0600 here is a valid empty database, private from the start.
                create_private_file(Path(path))
            self.engine: AsyncEngine = create_async_engine(url)
            sa.event.listen(self.engine.sync_engine, "connect", _sqlite_connect)
            sa.event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
        else:
            self.engine = create_async_engine(
                url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
        self._writer = asyncio.Lock() if self.is_sqlite else None
        self._writing: asyncio.Task[object] | None = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        """A write transaction: `async with db.transaction() as uow: await store.x(uow.conn)`."""
        task = asyncio.current_task()
        if self._writer is None or self._writing is task:  # a nested one waits in SQLite
            async with self._transaction() as uow:
                yield uow
            return
        async with self._writer:
            self._writing = task
            try:
                async with self._transaction() as uow:
                    yield uow
            finally:
                self._writing = None

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[UnitOfWork]:
        async with self.engine.connect() as conn:
            conn.info[_WRITE] = True
            async with conn.begin():
                uow = UnitOfWork(conn)
                yield uow
        for callback in uow._after_commit:
            callback()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads (its implicit transaction is rolled back on exit)."""
        async with self.engine.connect() as conn:
            yield conn

    async def upgrade(self) -> None:
        """Apply every pending migration (processes upgrading at once take turns on SQLite)."""
        async with self.engine.connect() as conn:
            if self.is_sqlite:
                # Another process's migration may hold the write lock for a while: wait for it.
                await conn.exec_driver_sql(f"PRAGMA busy_timeout={UPGRADE_WAIT_MS}")
                await conn.commit()
            conn.info[_WRITE] = True
            try:
                async with conn.begin():
                    await conn.run_sync(_upgrade)
            finally:
                if self.is_sqlite:
                    await conn.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                    await conn.commit()

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except Exception:
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()
