"""Consent operations, each one unit of work; revocation and expiry stop the consent's tokens
at once and tell the partner through the outbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from gateway.clock import utcnow
from gateway.consents.models import DEFAULT_LIFETIME, Consent
from gateway.consents.store import ConsentStore
from gateway.events.outbox import Event, EventType, Outbox
from gateway.ids import new_id
from gateway.oauth.refresh_tokens import RefreshTokens
from gateway.revocations import Revocations
from gateway.storage.database import Database, UnitOfWork
from policies.pipeline import ConsentView
from policies.vocabulary import ConsentStatus, ConsentType

# Consents expired per unit of work: bounded, so one pass never holds locks for long.
EXPIRY_BATCH = 100
ENDED_BY: dict[ConsentStatus, EventType] = {
    ConsentStatus.REVOKED: EventType.CONSENT_REVOKED,
    ConsentStatus.EXPIRED: EventType.CONSENT_EXPIRED,
}


class ConsentService:
    """Creates, reads, revokes and expires consents (authorisation happens in the OAuth
    flow)."""

    def __init__(
        self,
        db: Database,
        revocations: Revocations,
        outbox: Outbox,
        refresh_tokens: RefreshTokens,
    ) -> None:
        self.db = db
        self.store = ConsentStore()
        self.revocations = revocations
        self.outbox = outbox
        self.refresh_tokens = refresh_tokens

    async def create(
        self,
        *,
        partner_id: str,
        client_id: str,
        type: ConsentType,
        permissions: list[str],
        expires_at: datetime | None,
        payment: dict[str, Any] | None = None,
        uow: UnitOfWork | None = None,
    ) -> Consent:
        """A new consent awaiting the customer, written in `uow` when given (so that an
        idempotency key's answer commits with it), else in a unit of work of its own."""
        created = utcnow()
        consent = Consent(
            new_id("cns"),
            partner_id,
            client_id,
            type,
            tuple(dict.fromkeys(permissions)),
            ConsentStatus.AWAITING_AUTHORISATION,
            expires_at or created + DEFAULT_LIFETIME,
            created,
            created,
            payment,
        )
        if uow is not None:
            await self.store.insert(uow.conn, consent)
            return consent
        async with self.db.transaction() as own:
            await self.store.insert(own.conn, consent)
        return consent

    async def get(self, consent_id: str) -> Consent | None:
        async with self.db.read() as conn:
            return await self.store.get(conn, consent_id)

    async def consent_view(self, consent_id: str) -> ConsentView | None:
        """`policies.consent.ConsentLookup`: what the pipeline checks."""
        consent = await self.get(consent_id)
        return consent.view() if consent else None

    async def revoke(self, consent_id: str) -> Consent | None:
        """Revoke (idempotently): its tokens stop on every replica; the partner is told."""
        async with self.db.transaction() as uow:
            consent = await self.store.get(uow.conn, consent_id, for_update=True)
            if consent is None:
                return None
            if consent.status.is_live:
                await self._end(uow, consent, ConsentStatus.REVOKED, utcnow())
        return await self.get(consent_id)

    async def expire_due(self, now: datetime, partner_id: str | None = None) -> int:
        """Expire every live consent (of `partner_id`, or of all partners) whose expiry is at or
        before `now`, as `revoke` ends one, with a `consent.expired` event; return how many.

        Replicas may run this at once: each locks its batch and skips the consents another
        holds, so a consent expires once and has one event. `now` may be a partner's virtual
        time (the sandbox clock); events say when the consent expired, its `expires_at`.
        """
        expired = 0
        while True:
            async with self.db.transaction() as uow:
                due = await self.store.due_for_expiry(
                    uow.conn, now, partner_id=partner_id, limit=EXPIRY_BATCH
                )
                for consent in due:
                    assert consent.expires_at is not None
                    await self._end(uow, consent, ConsentStatus.EXPIRED, consent.expires_at)
            expired += len(due)
            if len(due) < EXPIRY_BATCH:
                return expired

    async def _end(
        self, uow: UnitOfWork, consent: Consent, status: ConsentStatus, at: datetime
    ) -> None:
        """End a live consent locked by `uow`: its refresh tokens are revoked, its access tokens
        stop on every replica (until a day after they could have lived), the partner is told."""
        await self.store.set_status(uow.conn, consent.id, status, at=at)
        await self.refresh_tokens.revoke_for_consent(uow.conn, consent.id)
        until = max(consent.expires_at or at, utcnow()) + timedelta(days=1)
        kind = "consent_expired" if status is ConsentStatus.EXPIRED else "consent"
        await self.revocations.record(uow, kind, consent.id, until)
        await self.outbox.add(
            uow.conn,
            Event(
                consent.partner_id,
                ENDED_BY[status],
                {"consent_id": consent.id, "status": status.value},
                occurred_at=at,
            ),
        )
