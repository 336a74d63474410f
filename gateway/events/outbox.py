"""The transactional outbox: an event is stored in the same unit of work as its cause.

Delivery (webhooks, the pull API) reads the outbox afterwards; an event therefore exists if
and only if the change it reports was committed.

Events are numbered (`seq`) when written, but on PostgreSQL transactions commit in any order:
a reader paging by `seq` could pass a number whose event commits a moment later, and never
see it. So every writer holds a shared advisory lock from its insert to its commit, and a
reader (`EventFeed`) briefly takes it exclusively to learn up to which number every event is
final. On SQLite writers take turns (`BEGIN IMMEDIATE`), so numbers commit in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.clock import utcnow
from gateway.ids import new_id
from gateway.storage.tables import events

# The advisory lock that orders outbox writers and readers on PostgreSQL ("obgwevts").
OUTBOX_LOCK = 0x6F62677765767473


class EventType(StrEnum):
    """What partners can be told about (DESIGN §4)."""

    CONSENT_REVOKED = "consent.revoked"
    CONSENT_EXPIRED = "consent.expired"
    PAYMENT_STATUS_CHANGED = "payment.status_changed"
    BILL_PAID = "bill.paid"
    BILL_CANCELLED = "bill.cancelled"
    BILL_EXPIRED = "bill.expired"


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to one partner's resources."""

    partner_id: str
    type: EventType
    data: dict[str, Any]
    id: str = field(default_factory=lambda: new_id("evt"))
    occurred_at: datetime = field(default_factory=utcnow)


class Outbox:
    """Appends events within the caller's transaction."""

    async def add(self, conn: AsyncConnection, event: Event) -> None:
        if conn.dialect.name == "postgresql":
            await conn.execute(sa.select(sa.func.pg_advisory_xact_lock_shared(OUTBOX_LOCK)))
        await conn.execute(
            events.insert().values(
                id=event.id,
                partner_id=event.partner_id,
                type=event.type.value,
                data=event.data,
                occurred_at=event.occurred_at,
                created_at=utcnow(),
            )
        )
