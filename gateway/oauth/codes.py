"""Authorization codes: single use, short-lived, stored as hashes, kept a while for reuse
detection (RFC 6749 §4.1.2)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.clock import utcnow
from gateway.ids import new_id, sha256_hex
from gateway.storage.tables import authorization_codes


@dataclass(frozen=True, slots=True)
class AuthorizationCode:
    """An issued code; the methods are the ones authlib's grant expects."""

    client_id: str
    grant_id: str
    redirect_uri: str
    scope: str
    consent_id: str | None
    customer_ref: str | None
    code_challenge: str
    code_challenge_method: str
    dpop_jkt: str | None
    auth_time: datetime
    expires_at: datetime
    used_at: datetime | None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> None:
        return None

    def get_auth_time(self) -> int:
        return int(self.auth_time.timestamp())


class AuthorizationCodes:
    async def create(self, conn: AsyncConnection, *, ttl: int, **fields: Any) -> str:
        """A new code for `fields` (returned once; only its hash is kept)."""
        code = secrets.token_urlsafe(32)
        issued = utcnow()
        await conn.execute(
            authorization_codes.insert().values(
                code_hash=sha256_hex(code),
                grant_id=new_id("grt"),
                auth_time=issued,
                expires_at=issued + timedelta(seconds=ttl),
                **fields,
            )
        )
        return code

    async def get(self, conn: AsyncConnection, code: str) -> AuthorizationCode | None:
        t = authorization_codes
        row = (await conn.execute(t.select().where(t.c.code_hash == sha256_hex(code)))).first()
        if row is None:
            return None
        return AuthorizationCode(
            row.client_id,
            row.grant_id,
            row.redirect_uri,
            row.scope,
            row.consent_id,
            row.customer_ref,
            row.code_challenge,
            row.code_challenge_method,
            row.dpop_jkt,
            row.auth_time,
            row.expires_at,
            row.used_at,
        )

    async def mark_used(self, conn: AsyncConnection, code: str) -> bool:
        """Single use: only the first caller wins, even under a race."""
        t = authorization_codes
        result = await conn.execute(
            t.update()
            .where(t.c.code_hash == sha256_hex(code), t.c.used_at.is_(None))
            .values(used_at=utcnow())
        )
        return bool(result.rowcount)

    async def flag_reuse(self, conn: AsyncConnection, code: str) -> None:
        t = authorization_codes
        await conn.execute(
            t.update().where(t.c.code_hash == sha256_hex(code)).values(reused_at=utcnow())
        )

    async def is_reused(self, conn: AsyncConnection, code: str) -> bool:
        t = authorization_codes
        flagged = await conn.execute(
            sa.select(t.c.reused_at).where(t.c.code_hash == sha256_hex(code))
        )
        return flagged.scalar_one_or_none() is not None

    async def is_grant_reused(self, conn: AsyncConnection, grant_id: str) -> bool:
        """Whether the code of `grant_id` was used twice (which revoked the grant)."""
        t = authorization_codes
        flagged = await conn.execute(
            sa.select(t.c.code_hash).where(t.c.grant_id == grant_id, t.c.reused_at.is_not(None))
        )
        return flagged.first() is not None

    async def purge(self, conn: AsyncConnection, cutoff: datetime) -> int:
        t = authorization_codes
        result = await conn.execute(t.delete().where(t.c.expires_at < cutoff))
        return result.rowcount or 0
