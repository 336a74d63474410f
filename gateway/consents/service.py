"""Consent operations, each one unit of work; revocation stops the consent's tokens at once
and tells the partner through the outbox."""

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
from gateway.storage.database import Database
from policies.pipeline import ConsentView
from policies.vocabulary import ConsentStatus, ConsentType


class ConsentService:
    """Creates, reads and revokes consents (authorisation happens in the OAuth flow)."""

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
    ) -> Consent:
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
        async with self.db.transaction() as uow:
            await self.store.insert(uow.conn, consent)
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
                stamp = utcnow()
                await self.store.set_status(uow.conn, consent_id, ConsentStatus.REVOKED, at=stamp)
                await self.refresh_tokens.revoke_for_consent(uow.conn, consent_id)
                until = max(consent.expires_at or stamp, stamp) + timedelta(days=1)
                await self.revocations.record(uow, "consent", consent_id, until)
                await self.outbox.add(
                    uow.conn,
                    Event(
                        consent.partner_id,
                        EventType.CONSENT_REVOKED,
                        {"consent_id": consent_id, "status": ConsentStatus.REVOKED.value},
                        occurred_at=stamp,
                    ),
                )
        return await self.get(consent_id)
