"""Refresh tokens: opaque, stored as hashes, bound like their access tokens, not rotated."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.clock import utcnow
from gateway.ids import sha256_hex
from gateway.storage.tables import refresh_tokens


@dataclass(frozen=True, slots=True)
class RefreshToken:
    client_id: str
    grant_id: str
    consent_id: str | None
    customer_ref: str | None
    scope: str
    dpop_jkt: str | None
    expires_at: datetime
    revoked_at: datetime | None

    def check_client(self, client: Any) -> bool:
        return bool(client.get_client_id() == self.client_id)

    def get_scope(self) -> str:
        return self.scope

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > utcnow()


class RefreshTokens:
    async def create(
        self,
        conn: AsyncConnection,
        *,
        client_id: str,
        grant_id: str,
        consent_id: str | None,
        customer_ref: str | None,
        scope: str,
        dpop_jkt: str | None,
        expires_at: datetime,
    ) -> str:
        """A new refresh token (returned once; only its hash is kept)."""
        token = secrets.token_urlsafe(32)
        await conn.execute(
            refresh_tokens.insert().values(
                token_hash=sha256_hex(token),
                client_id=client_id,
                grant_id=grant_id,
                consent_id=consent_id,
                customer_ref=customer_ref,
                scope=scope,
                dpop_jkt=dpop_jkt,
                created_at=utcnow(),
                expires_at=expires_at,
            )
        )
        return token

    async def get(self, conn: AsyncConnection, token: str) -> RefreshToken | None:
        t = refresh_tokens
        row = (await conn.execute(t.select().where(t.c.token_hash == sha256_hex(token)))).first()
        if row is None:
            return None
        return RefreshToken(
            row.client_id,
            row.grant_id,
            row.consent_id,
            row.customer_ref,
            row.scope,
            row.dpop_jkt,
            row.expires_at,
            row.revoked_at,
        )

    async def revoke(self, conn: AsyncConnection, token: str) -> None:
        await self._revoke_where(conn, refresh_tokens.c.token_hash == sha256_hex(token))

    async def revoke_for_consent(self, conn: AsyncConnection, consent_id: str) -> None:
        await self._revoke_where(conn, refresh_tokens.c.consent_id == consent_id)

    async def revoke_for_grant(self, conn: AsyncConnection, grant_id: str) -> None:
        await self._revoke_where(conn, refresh_tokens.c.grant_id == grant_id)

    async def _revoke_where(self, conn: AsyncConnection, clause: sa.ColumnElement[bool]) -> None:
        await conn.execute(
            refresh_tokens.update()
            .where(clause, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )

    async def purge(self, conn: AsyncConnection, cutoff: datetime) -> int:
        result = await conn.execute(
            refresh_tokens.delete().where(refresh_tokens.c.expires_at < cutoff)
        )
        return result.rowcount or 0
