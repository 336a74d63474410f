"""Rows of the `consents` table, within the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.clock import utcnow
from gateway.consents.models import Consent
from gateway.storage.tables import consents
from policies.vocabulary import ConsentStatus, ConsentType


def _consent(row: Any) -> Consent:
    return Consent(
        id=row.id,
        partner_id=row.partner_id,
        client_id=row.client_id,
        type=ConsentType(row.type),
        permissions=tuple(row.permissions),
        status=ConsentStatus(row.status),
        expires_at=row.expires_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        payment=row.payment,
        customer_ref=row.customer_ref,
        psu_id=row.psu_id,
        accounts=dict(row.accounts) if row.accounts else None,
    ).with_clock()


class ConsentStore:
    async def insert(self, conn: AsyncConnection, consent: Consent) -> None:
        await conn.execute(
            consents.insert().values(
                id=consent.id,
                partner_id=consent.partner_id,
                client_id=consent.client_id,
                type=consent.type.value,
                permissions=list(consent.permissions),
                status=consent.status.value,
                expires_at=consent.expires_at,
                payment=consent.payment,
                created_at=consent.created_at,
                updated_at=consent.updated_at,
            )
        )

    async def get(
        self, conn: AsyncConnection, consent_id: str, *, for_update: bool = False
    ) -> Consent | None:
        stmt = consents.select().where(consents.c.id == consent_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await conn.execute(stmt)).first()
        return _consent(row) if row else None

    async def authorise(
        self,
        conn: AsyncConnection,
        consent_id: str,
        *,
        customer_ref: str,
        psu_id: str,
        accounts: dict[str, str],
    ) -> bool:
        """Bind an awaiting, unexpired consent to the customer and their chosen accounts."""
        result = await conn.execute(
            consents.update()
            .where(
                consents.c.id == consent_id,
                consents.c.status == ConsentStatus.AWAITING_AUTHORISATION.value,
                sa.or_(consents.c.expires_at.is_(None), consents.c.expires_at > utcnow()),
            )
            .values(
                status=ConsentStatus.AUTHORISED.value,
                customer_ref=customer_ref,
                psu_id=psu_id,
                accounts=accounts,
                updated_at=utcnow(),
            )
        )
        return bool(result.rowcount)

    async def due_for_expiry(
        self,
        conn: AsyncConnection,
        now: datetime,
        *,
        partner_id: str | None = None,
        limit: int = 100,
    ) -> list[Consent]:
        """Up to `limit` live consents whose expiry is at or before `now`, soonest first,
        locked for the caller's transaction; those another transaction holds are skipped."""
        live = [s.value for s in ConsentStatus if s.is_live]
        stmt = (
            consents.select()
            .where(consents.c.status.in_(live), consents.c.expires_at <= now)
            .order_by(consents.c.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if partner_id is not None:
            stmt = stmt.where(consents.c.partner_id == partner_id)
        return [_consent(row) for row in await conn.execute(stmt)]

    async def set_status(
        self,
        conn: AsyncConnection,
        consent_id: str,
        status: ConsentStatus,
        *,
        only_from: tuple[ConsentStatus, ...] = (),
        at: datetime | None = None,
    ) -> bool:
        """Move a consent to `status` (only from one of `only_from`, when given)."""
        stmt = consents.update().where(consents.c.id == consent_id)
        if only_from:
            stmt = stmt.where(consents.c.status.in_([s.value for s in only_from]))
        result = await conn.execute(stmt.values(status=status.value, updated_at=at or utcnow()))
        return bool(result.rowcount)
