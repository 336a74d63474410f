"""The transactional outbox: an event is stored in the same unit of work as its cause.

Delivery (webhooks, the pull API) reads the outbox afterwards; an event therefore exists if
and only if the change it reports was committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.clock import utcnow
from gateway.ids import new_id
from gateway.storage.tables import events


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
