"""Rows of `payments` and `risk_totals`, within the caller's transaction."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.contract import Money
from gateway.payments.models import Payment, PaymentState
from gateway.storage.tables import payments, risk_totals


def _payment(row: Any) -> Payment:
    return Payment(
        id=row.id,
        partner_id=row.partner_id,
        client_id=row.client_id,
        consent_id=row.consent_id,
        customer_ref=row.customer_ref,
        psu_id=row.psu_id,
        debtor_account_id=row.debtor_account_id,
        debtor_account_ref=row.debtor_account_ref,
        amount=Money.of_cents(int(row.amount_cents), row.currency),
        creditor_account_number=row.creditor_account_number,
        creditor_name=row.creditor_name,
        reference=row.reference,
        bill_id=row.bill_id,
        status=PaymentState(row.status),
        reason=row.reason,
        idempotency_key=row.idempotency_key,
        core_ref=row.core_ref,
        created_at=row.created_at,
        status_updated_at=row.status_updated_at,
        settled_at=row.settled_at,
    )


class PaymentStore:
    async def insert(self, conn: AsyncConnection, payment: Payment) -> None:
        await conn.execute(
            payments.insert().values(
                id=payment.id,
                partner_id=payment.partner_id,
                client_id=payment.client_id,
                consent_id=payment.consent_id,
                customer_ref=payment.customer_ref,
                psu_id=payment.psu_id,
                debtor_account_id=payment.debtor_account_id,
                debtor_account_ref=payment.debtor_account_ref,
                amount_cents=payment.amount.cents,
                currency=payment.amount.currency,
                creditor_account_number=payment.creditor_account_number,
                creditor_name=payment.creditor_name,
                reference=payment.reference,
                bill_id=payment.bill_id,
                status=payment.status.value,
                reason=payment.reason,
                idempotency_key=payment.idempotency_key,
                core_ref=payment.core_ref,
                created_at=payment.created_at,
                status_updated_at=payment.status_updated_at,
                settled_at=payment.settled_at,
            )
        )

    async def get(
        self, conn: AsyncConnection, payment_id: str, *, for_update: bool = False
    ) -> Payment | None:
        stmt = payments.select().where(payments.c.id == payment_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await conn.execute(stmt)).first()
        return _payment(row) if row is not None else None

    async def by_key(self, conn: AsyncConnection, client_id: str, key: str) -> Payment | None:
        row = (
            await conn.execute(
                payments.select().where(
                    payments.c.client_id == client_id, payments.c.idempotency_key == key
                )
            )
        ).first()
        return _payment(row) if row is not None else None

    async def unsettled(
        self, conn: AsyncConnection, partner_id: str | None, initiated_before: datetime
    ) -> list[Payment]:
        """Pending payments, and payments whose core answer was lost before the given time."""
        stmt = payments.select().where(
            sa.or_(
                payments.c.status == PaymentState.PENDING.value,
                sa.and_(
                    payments.c.status == PaymentState.INITIATING.value,
                    payments.c.created_at < initiated_before,
                ),
            )
        )
        if partner_id is not None:
            stmt = stmt.where(payments.c.partner_id == partner_id)
        rows = await conn.execute(stmt.order_by(payments.c.created_at).limit(500))
        return [_payment(row) for row in rows]

    async def move(
        self,
        conn: AsyncConnection,
        payment_id: str,
        status: PaymentState,
        *,
        only_from: tuple[PaymentState, ...],
        at: datetime,
        reason: str | None = None,
        core_ref: str | None = None,
        settled_at: datetime | None = None,
    ) -> bool:
        """Move a payment to `status` if it is in one of `only_from` (False if it was not)."""
        values: dict[str, Any] = {"status": status.value, "status_updated_at": at}
        if reason is not None:
            values["reason"] = reason
        if core_ref is not None:
            values["core_ref"] = core_ref
        if settled_at is not None:
            values["settled_at"] = settled_at
        result = await conn.execute(
            payments.update()
            .where(
                payments.c.id == payment_id,
                payments.c.status.in_([s.value for s in only_from]),
            )
            .values(**values)
        )
        return bool(result.rowcount)


class RiskTotals:
    """What each partner moved per business day, reserved before the core is asked."""

    async def reserve(
        self, conn: AsyncConnection, partner_id: str, day: date, cents: int, cap_cents: int
    ) -> bool:
        """Add `cents` to the partner's day unless that would pass `cap_cents` (atomic)."""
        t = risk_totals
        where = (t.c.partner_id == partner_id, t.c.day == day)
        row = (await conn.execute(sa.select(t.c.amount_cents).where(*where))).first()
        if row is None:
            if cents > cap_cents:
                return False
            try:
                async with conn.begin_nested():
                    await conn.execute(
                        t.insert().values(partner_id=partner_id, day=day, amount_cents=0)
                    )
            except IntegrityError:
                pass  # the day's first payment on another replica created the row

        result = await conn.execute(
            t.update()
            .where(*where, t.c.amount_cents + cents <= cap_cents)
            .values(amount_cents=t.c.amount_cents + cents)
        )
        return bool(result.rowcount)

    async def give_back(
        self, conn: AsyncConnection, partner_id: str, day: date, cents: int
    ) -> None:
        t = risk_totals
        await conn.execute(
            t.update()
            .where(t.c.partner_id == partner_id, t.c.day == day)
            .values(amount_cents=t.c.amount_cents - cents)
        )
