"""Revocations of tokens, consents, clients and partners, on every replica within a second.

A revocation is a row in the shared `revocations` table, written in the same unit of work as
its cause and applied to this replica's `RevocationList` once that commits. `RevocationFeed`
polls the table so every other replica applies it too.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.clock import utcnow
from gateway.storage.database import Database, UnitOfWork
from gateway.storage.tables import revocations
from policies.revocation import RevocationList

log = structlog.get_logger("obgw.revocations")


class Revocations:
    """Records revocations in the caller's unit of work and applies them locally on commit."""

    def __init__(self, revoked: RevocationList) -> None:
        self.revoked = revoked

    async def record(self, uow: UnitOfWork, kind: str, value: str, expires_at: datetime) -> None:
        """Announce that `kind:value` is revoked until `expires_at`."""
        await _insert(uow.conn, kind, value, expires_at)
        uow.after_commit(lambda: self.revoked.add(kind, value, expires_at.timestamp()))

    async def withdraw(self, uow: UnitOfWork, kind: str, value: str) -> None:
        """Undo a `client`/`partner` revocation (reinstatement), on every replica.

        Earlier entries end now (so start-up loads and clean-ups agree), and a new, already
        ended entry tells running replicas through the feed.
        """
        stamp = utcnow()
        await uow.conn.execute(
            revocations.update()
            .where(revocations.c.kind == kind, revocations.c.value == value)
            .values(expires_at=stamp)
        )
        await _insert(uow.conn, kind, value, stamp)
        uow.after_commit(lambda: self.revoked.remove(kind, value))

    @staticmethod
    async def purge(conn: AsyncConnection, cutoff: datetime) -> int:
        """Delete entries that ended before `cutoff`."""
        result = await conn.execute(revocations.delete().where(revocations.c.expires_at < cutoff))
        return result.rowcount or 0


async def _insert(conn: AsyncConnection, kind: str, value: str, expires_at: datetime) -> None:
    await conn.execute(
        revocations.insert().values(
            kind=kind, value=value, created_at=utcnow(), expires_at=expires_at
        )
    )


class RevocationFeed:
    """Keeps this replica's `RevocationList` in step with the shared revocations table."""

    # Ids can commit out of order under concurrency; re-reading the last few seconds is
    # harmless (applying an entry is idempotent) and catches a late-committed lower id.
    LOOKBACK = timedelta(seconds=10)

    def __init__(self, db: Database, revoked: RevocationList, interval: float) -> None:
        self.db = db
        self.revoked = revoked
        self.interval = interval
        self._last_id = 0
        self._task: asyncio.Task[None] | None = None
        self.last_polled: float | None = None

    async def load(self) -> None:
        """Start-up: the latest entry for each revoked thing that is still in force."""
        t, later = revocations, revocations.alias("later")
        superseded = sa.exists().where(
            later.c.kind == t.c.kind, later.c.value == t.c.value, later.c.id > t.c.id
        )
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(t.c.kind, t.c.value, t.c.expires_at).where(
                        t.c.expires_at > utcnow(), ~superseded
                    )
                )
            ).all()
            last = (await conn.execute(sa.select(sa.func.max(t.c.id)))).scalar_one_or_none()
        for kind, value, expires_at in rows:
            self.revoked.add(kind, value, expires_at.timestamp())
        self._last_id = last or 0
        self.last_polled = asyncio.get_running_loop().time()

    async def poll(self) -> None:
        t = revocations
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(t.c.id, t.c.kind, t.c.value, t.c.expires_at)
                    .where(
                        sa.or_(t.c.id > self._last_id, t.c.created_at > utcnow() - self.LOOKBACK)
                    )
                    .order_by(t.c.id)
                )
            ).all()
        current = utcnow()
        for row_id, kind, value, expires_at in rows:
            self._last_id = max(self._last_id, row_id)
            if expires_at > current and not self.revoked.is_revoked(kind, value):
                self.revoked.add(kind, value, expires_at.timestamp())
            elif expires_at <= current:
                self.revoked.remove(kind, value)
        self.last_polled = asyncio.get_running_loop().time()

    def lag(self) -> float | None:
        """Seconds since the feed last read the table (None before it started)."""
        if self.last_polled is None:
            return None
        return asyncio.get_running_loop().time() - self.last_polled

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.poll()
                self.revoked.purge()
            except Exception:  # keep polling; the next round catches up
                log.warning("revocation_poll_failed", exc_info=True)

    async def start(self) -> None:
        await self.load()
        self._task = asyncio.create_task(self._run(), name="revocation-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
