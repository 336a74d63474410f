"""Records of issued access tokens: what revocation by grant or by token needs to find."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.clock import utcnow
from gateway.storage.tables import access_tokens


@dataclass(frozen=True, slots=True)
class AccessTokenRecord:
    jti: str
    client_id: str
    grant_id: str | None
    consent_id: str | None
    expires_at: datetime
    revoked_at: datetime | None


class AccessTokenRecords:
    async def insert(
        self,
        conn: AsyncConnection,
        *,
        jti: str,
        client_id: str,
        grant_id: str | None,
        consent_id: str | None,
        expires_at: datetime,
    ) -> None:
        await conn.execute(
            access_tokens.insert().values(
                jti=jti,
                client_id=client_id,
                grant_id=grant_id,
                consent_id=consent_id,
                expires_at=expires_at,
            )
        )

    async def get(self, conn: AsyncConnection, jti: str) -> AccessTokenRecord | None:
        t = access_tokens
        row = (await conn.execute(t.select().where(t.c.jti == jti))).first()
        if row is None:
            return None
        return AccessTokenRecord(
            row.jti, row.client_id, row.grant_id, row.consent_id, row.expires_at, row.revoked_at
        )

    async def mark_revoked(self, conn: AsyncConnection, jti: str) -> bool:
        t = access_tokens
        result = await conn.execute(
            t.update().where(t.c.jti == jti, t.c.revoked_at.is_(None)).values(revoked_at=utcnow())
        )
        return bool(result.rowcount)

    async def live_of_grant(
        self, conn: AsyncConnection, grant_id: str
    ) -> list[tuple[str, datetime]]:
        """`(jti, expires_at)` of the grant's unrevoked, unexpired access tokens."""
        t = access_tokens
        rows = await conn.execute(
            sa.select(t.c.jti, t.c.expires_at).where(
                t.c.grant_id == grant_id, t.c.revoked_at.is_(None), t.c.expires_at > utcnow()
            )
        )
        return [(jti, expires_at) for jti, expires_at in rows]

    async def purge(self, conn: AsyncConnection, cutoff: datetime) -> int:
        result = await conn.execute(
            access_tokens.delete().where(access_tokens.c.expires_at < cutoff)
        )
        return result.rowcount or 0
