"""The pull feed: a partner's events from the outbox, oldest first, after a given event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.events.outbox import OUTBOX_LOCK, EventType
from gateway.storage.database import Database
from gateway.storage.tables import events

LOCK_NOT_AVAILABLE = "55P03"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the outbox keeps it."""

    id: str
    type: EventType
    occurred_at: datetime
    data: dict[str, Any]


class UnknownEventError(LookupError):
    """The event to read after is not one of the partner's."""


class EventFeed:
    """Reads one partner's events in the order they were written, never another's."""

    def __init__(self, db: Database, *, lock_timeout_ms: int = 200) -> None:
        self.db = db
        self.lock_timeout_ms = lock_timeout_ms

    async def after(self, partner_id: str, after: str | None, limit: int) -> list[StoredEvent]:
        """At most `limit` of the partner's events written after event `after` (from the
        first when None); `UnknownEventError` if `after` is not the partner's event."""
        async with self.db.read() as conn:
            horizon = await self._horizon(conn)
            start = 0
            if after is not None:
                found = await conn.execute(
                    sa.select(events.c.seq).where(
                        events.c.id == after, events.c.partner_id == partner_id
                    )
                )
                seq = found.scalar()
                if seq is None:
                    raise UnknownEventError(after)
                start = seq
            stmt = (
                sa.select(events.c.id, events.c.type, events.c.occurred_at, events.c.data)
                .where(events.c.partner_id == partner_id, events.c.seq > start)
                .order_by(events.c.seq)
                .limit(limit)
            )
            if horizon is not None:
                stmt = stmt.where(events.c.seq <= horizon)
            rows = (await conn.execute(stmt)).all()
        return [StoredEvent(r.id, EventType(r.type), r.occurred_at, r.data) for r in rows]

    async def _horizon(self, conn: AsyncConnection) -> int | None:
        """The number up to which every event has committed (None: all of them, as on SQLite).

        Taking the outbox lock exclusively waits for the writers in flight (see
        `gateway.events.outbox`); it is released at once. If writers keep it longer than the
        lock timeout, no event is final yet: the page is empty and the partner polls again.
        """
        if conn.dialect.name != "postgresql":
            return None
        try:
            await conn.execute(sa.text(f"SET LOCAL lock_timeout = {int(self.lock_timeout_ms)}"))
            await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(OUTBOX_LOCK)))
            horizon = (await conn.execute(sa.select(sa.func.max(events.c.seq)))).scalar()
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            horizon = 0
        finally:
            await conn.rollback()
        return int(horizon or 0)
