"""Rows of the `bills` table, within the caller's transaction.

Every change of state is a conditional UPDATE that names the state it leaves, and says by
its row count whether it happened: among replicas and concurrent requests racing for one
bill, exactly one wins, and only the winner writes the event that reports the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.contract import Money
from gateway.collections.models import Bill, BillCategory, BillStatus, SettlementChannel
from gateway.collections.statement import StatementItem
from gateway.storage.tables import bills

_UNHELD = (bills.c.payment_id.is_(None), bills.c.settles_at.is_(None))
_OPEN = bills.c.status == BillStatus.OPEN.value


def _bill(row: Any) -> Bill:
    return Bill(
        id=row.id,
        partner_id=row.partner_id,
        category=BillCategory(row.category),
        payer_reference=row.payer_reference,
        payer_name=row.payer_name,
        description=row.description,
        amount=Money.of_cents(row.amount_cents, row.currency),
        due_date=row.due_date,
        pay_code=row.pay_code,
        status=BillStatus(row.status),
        created_at=row.created_at,
        status_updated_at=row.status_updated_at,
        channel=SettlementChannel(row.channel) if row.channel else None,
        payment_id=row.payment_id,
        settles_at=row.settles_at,
        settled_at=row.settled_at,
    )


class BillStore:
    async def insert(self, conn: AsyncConnection, bill: Bill) -> None:
        await conn.execute(
            bills.insert().values(
                id=bill.id,
                partner_id=bill.partner_id,
                category=bill.category.value,
                payer_reference=bill.payer_reference,
                payer_name=bill.payer_name,
                description=bill.description,
                amount_cents=bill.amount.cents,
                currency=bill.amount.currency,
                due_date=bill.due_date,
                pay_code=bill.pay_code,
                status=bill.status.value,
                channel=None,
                payment_id=None,
                settles_at=None,
                settled_at=None,
                created_at=bill.created_at,
                status_updated_at=bill.status_updated_at,
            )
        )

    async def get(
        self, conn: AsyncConnection, partner_id: str, bill_id: str, *, for_update: bool = False
    ) -> Bill | None:
        """The partner's bill (another partner's reads as missing)."""
        stmt = bills.select().where(bills.c.id == bill_id, bills.c.partner_id == partner_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await conn.execute(stmt)).first()
        return _bill(row) if row else None

    async def page(
        self,
        conn: AsyncConnection,
        partner_id: str,
        *,
        status: BillStatus | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Bill]:
        """Up to `limit` bills, newest first, strictly after the keyset `after`."""
        stmt = bills.select().where(bills.c.partner_id == partner_id)
        if status is not None:
            stmt = stmt.where(bills.c.status == status.value)
        if after is not None:
            created_at, bill_id = after
            stmt = stmt.where(
                sa.or_(
                    bills.c.created_at < created_at,
                    sa.and_(bills.c.created_at == created_at, bills.c.id < bill_id),
                )
            )
        stmt = stmt.order_by(bills.c.created_at.desc(), bills.c.id.desc()).limit(limit)
        return [_bill(row) for row in await conn.execute(stmt)]

    async def cancel(
        self, conn: AsyncConnection, partner_id: str, bill_id: str, at: datetime
    ) -> bool:
        """Open and not held → Cancelled."""
        return await self._move(
            conn,
            partner_id,
            bill_id,
            (_OPEN, *_UNHELD),
            status=BillStatus.CANCELLED.value,
            status_updated_at=at,
        )

    async def reserve(
        self, conn: AsyncConnection, partner_id: str, bill_id: str, payment_id: str
    ) -> bool:
        """Hold an open, unheld bill for `payment_id`."""
        return await self._move(conn, partner_id, bill_id, (_OPEN, *_UNHELD), payment_id=payment_id)

    async def release(
        self, conn: AsyncConnection, partner_id: str, bill_id: str, payment_id: str
    ) -> bool:
        """Let go of an open bill that `payment_id` holds."""
        return await self._move(
            conn, partner_id, bill_id, (_OPEN, bills.c.payment_id == payment_id), payment_id=None
        )

    async def hold_for_bank(
        self, conn: AsyncConnection, partner_id: str, bill_id: str, settles_at: datetime
    ) -> bool:
        """Hold an open, unheld bill for a bank-channel payment settling at `settles_at`."""
        return await self._move(conn, partner_id, bill_id, (_OPEN, *_UNHELD), settles_at=settles_at)

    async def settle(
        self,
        conn: AsyncConnection,
        partner_id: str,
        bill_id: str,
        *,
        channel: SettlementChannel,
        payment_id: str | None,
        at: datetime,
        held_by: Sequence[sa.ColumnElement[bool]],
    ) -> bool:
        """Open → Paid at `at`, if the bill is held as `held_by` says."""
        return await self._move(
            conn,
            partner_id,
            bill_id,
            (_OPEN, *held_by),
            status=BillStatus.PAID.value,
            channel=channel.value,
            payment_id=payment_id,
            settles_at=None,
            settled_at=at,
            status_updated_at=at,
        )

    async def expire(self, conn: AsyncConnection, bill_id: str, at: datetime, before: date) -> bool:
        """Open, unheld and due before `before` → Expired."""
        return bool(
            (
                await conn.execute(
                    bills.update()
                    .where(bills.c.id == bill_id, _OPEN, *_UNHELD, bills.c.due_date < before)
                    .values(status=BillStatus.EXPIRED.value, status_updated_at=at)
                )
            ).rowcount
        )

    async def _move(
        self,
        conn: AsyncConnection,
        partner_id: str,
        bill_id: str,
        where: Sequence[sa.ColumnElement[bool]],
        **values: Any,
    ) -> bool:
        result = await conn.execute(
            bills.update()
            .where(bills.c.id == bill_id, bills.c.partner_id == partner_id, *where)
            .values(**values)
        )
        return bool(result.rowcount)

    async def overdue(
        self, conn: AsyncConnection, partner_id: str | None, before: date, limit: int
    ) -> list[Bill]:
        """Open, unheld bills due before `before` (the expiry candidates)."""
        stmt = bills.select().where(_OPEN, *_UNHELD, bills.c.due_date < before)
        if partner_id is not None:
            stmt = stmt.where(bills.c.partner_id == partner_id)
        return [_bill(row) for row in await conn.execute(stmt.order_by(bills.c.id).limit(limit))]

    async def bank_settlements_due(
        self, conn: AsyncConnection, partner_id: str | None, now: datetime, limit: int
    ) -> list[Bill]:
        """Open bills held by a bank-channel payment that settles by `now`."""
        stmt = bills.select().where(_OPEN, bills.c.payment_id.is_(None), bills.c.settles_at <= now)
        if partner_id is not None:
            stmt = stmt.where(bills.c.partner_id == partner_id)
        return [_bill(row) for row in await conn.execute(stmt.order_by(bills.c.id).limit(limit))]

    async def settled_between(
        self, conn: AsyncConnection, partner_id: str, start: datetime, end: datetime
    ) -> list[StatementItem]:
        """The partner's bills settled in `[start, end)`, in settlement order."""
        stmt = (
            sa.select(
                bills.c.id,
                bills.c.payer_reference,
                bills.c.category,
                bills.c.amount_cents,
                bills.c.channel,
                bills.c.payment_id,
                bills.c.settled_at,
            )
            .where(
                bills.c.partner_id == partner_id,
                bills.c.status == BillStatus.PAID.value,
                bills.c.settled_at >= start,
                bills.c.settled_at < end,
            )
            .order_by(bills.c.settled_at, bills.c.id)
        )
        return [
            StatementItem(
                bill_id=row.id,
                payer_reference=row.payer_reference,
                category=BillCategory(row.category),
                amount_cents=row.amount_cents,
                channel=SettlementChannel(row.channel),
                payment_id=row.payment_id,
                settled_at=row.settled_at,
            )
            for row in await conn.execute(stmt)
        ]
