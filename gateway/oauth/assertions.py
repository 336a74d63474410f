"""Client assertion `jti`s, single use across every replica (RFC 7523 §3, item 7)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.clock import utcnow
from gateway.storage.database import Database
from gateway.storage.tables import used_jtis


class AssertionReplayCache:
    """`policies.replay.ReplayCache` on the shared database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def first_use(self, key: str, ttl: int) -> bool:
        now = utcnow()
        try:
            async with self.db.transaction() as uow:
                await uow.conn.execute(
                    used_jtis.delete().where(used_jtis.c.key == key, used_jtis.c.expires_at < now)
                )
                await uow.conn.execute(
                    used_jtis.insert().values(key=key, expires_at=now + timedelta(seconds=ttl))
                )
        except IntegrityError:
            return False
        return True

    @staticmethod
    async def purge(conn: AsyncConnection, cutoff: datetime) -> int:
        result = await conn.execute(used_jtis.delete().where(used_jtis.c.expires_at < cutoff))
        return result.rowcount or 0
