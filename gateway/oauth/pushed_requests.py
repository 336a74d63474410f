"""Pushed authorization requests (RFC 9126): single-use `request_uri`s, stored as hashes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.clock import utcnow
from gateway.ids import sha256_hex
from gateway.storage.tables import authorization_requests

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"


@dataclass(frozen=True, slots=True)
class PushedRequest:
    request_uri: str
    client_id: str
    params: dict[str, Any]
    expires_at: datetime


class PushedRequests:
    async def insert(
        self, conn: AsyncConnection, client_id: str, params: dict[str, Any], ttl: int
    ) -> PushedRequest:
        request_uri = REQUEST_URI_PREFIX + secrets.token_urlsafe(32)
        expires = utcnow() + timedelta(seconds=ttl)
        await conn.execute(
            authorization_requests.insert().values(
                id=sha256_hex(request_uri), client_id=client_id, params=params, expires_at=expires
            )
        )
        return PushedRequest(request_uri, client_id, params, expires)

    async def get(
        self, conn: AsyncConnection, request_uri: str, *, check_expiry: bool = True
    ) -> PushedRequest | None:
        """The pushed request if it exists, has not been used (and is unexpired)."""
        t = authorization_requests
        row = (await conn.execute(t.select().where(t.c.id == sha256_hex(request_uri)))).first()
        if row is None or row.consumed_at is not None:
            return None
        if check_expiry and row.expires_at <= utcnow():
            return None
        return PushedRequest(request_uri, row.client_id, dict(row.params), row.expires_at)

    async def lookup(
        self, conn: AsyncConnection, request_uri: str
    ) -> tuple[PushedRequest, bool] | None:
        """The pushed request whatever its state, and whether it has been used."""
        t = authorization_requests
        row = (await conn.execute(t.select().where(t.c.id == sha256_hex(request_uri)))).first()
        if row is None:
            return None
        pushed = PushedRequest(request_uri, row.client_id, dict(row.params), row.expires_at)
        return pushed, row.consumed_at is not None

    async def consume(
        self, conn: AsyncConnection, request_uri: str, *, check_expiry: bool = True
    ) -> bool:
        """Mark a pushed request used; false if it was already used (or has expired)."""
        t = authorization_requests
        clauses = [t.c.id == sha256_hex(request_uri), t.c.consumed_at.is_(None)]
        if check_expiry:
            clauses.append(t.c.expires_at > utcnow())
        result = await conn.execute(t.update().where(*clauses).values(consumed_at=utcnow()))
        return bool(result.rowcount)

    async def purge(self, conn: AsyncConnection, cutoff: datetime) -> int:
        t = authorization_requests
        result = await conn.execute(t.delete().where(t.c.expires_at < cutoff))
        return result.rowcount or 0
