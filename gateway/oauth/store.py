"""Persistent OAuth state: pushed requests, codes, tokens, replay keys and revocations."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.exc import IntegrityError

from gateway.ids import new_id, sha256_hex
from gateway.storage.database import Database
from gateway.storage.tables import (
    access_tokens,
    authorization_codes,
    authorization_requests,
    refresh_tokens,
    revocations,
    used_jtis,
)
from policies.revocation import RevocationList

log = structlog.get_logger("obgw.oauth")
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PushedRequest:
    request_uri: str
    client_id: str
    params: dict[str, Any]
    expires_at: datetime


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
        return self.revoked_at is None and self.expires_at > now()


async def record_revocation(conn: Any, kind: str, value: str, expires_at: datetime) -> None:
    """Within the caller's transaction: announce a revocation to every replica's feed."""
    await conn.execute(
        revocations.insert().values(kind=kind, value=value, created_at=now(), expires_at=expires_at)
    )


class OAuthStore:
    """Async persistence for the authorization server."""

    def __init__(self, db: Database, revoked: RevocationList) -> None:
        self.db = db
        self.revoked = revoked

    # Pushed authorization requests (RFC 9126)
    async def push_request(self, client_id: str, params: dict[str, Any], ttl: int) -> PushedRequest:
        request_uri = REQUEST_URI_PREFIX + secrets.token_urlsafe(32)
        expires = now() + timedelta(seconds=ttl)
        async with self.db.begin() as conn:
            await conn.execute(
                authorization_requests.insert().values(
                    id=sha256_hex(request_uri),
                    client_id=client_id,
                    params=params,
                    expires_at=expires,
                )
            )
        return PushedRequest(request_uri, client_id, params, expires)

    async def get_request(
        self, request_uri: str, *, check_expiry: bool = True
    ) -> PushedRequest | None:
        """The pushed request if it exists, has not been used (and is unexpired)."""
        t = authorization_requests
        async with self.db.connect() as conn:
            row = (await conn.execute(t.select().where(t.c.id == sha256_hex(request_uri)))).first()
        if row is None or row.consumed_at is not None:
            return None
        if check_expiry and row.expires_at <= now():
            return None
        return PushedRequest(request_uri, row.client_id, dict(row.params), row.expires_at)

    async def consume_request(self, request_uri: str, *, check_expiry: bool = True) -> bool:
        """Mark a pushed request used; false if it was already used (or has expired).

        The HTML flow passes `check_expiry=False`: the customer started within the
        request's lifetime and may take longer than 90 s to log in and decide.
        """
        t = authorization_requests
        clauses = [t.c.id == sha256_hex(request_uri), t.c.consumed_at.is_(None)]
        if check_expiry:
            clauses.append(t.c.expires_at > now())
        async with self.db.begin() as conn:
            result = await conn.execute(t.update().where(*clauses).values(consumed_at=now()))
        return bool(result.rowcount)

    # Authorization codes
    async def create_code(self, *, ttl: int, **fields: Any) -> str:
        code = secrets.token_urlsafe(32)
        issued = now()
        async with self.db.begin() as conn:
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

    async def get_code(self, code: str) -> AuthorizationCode | None:
        t = authorization_codes
        async with self.db.connect() as conn:
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

    async def mark_code_used(self, code: str) -> bool:
        """Single use: only the first caller wins, even under a race."""
        t = authorization_codes
        async with self.db.begin() as conn:
            result = await conn.execute(
                t.update()
                .where(t.c.code_hash == sha256_hex(code), t.c.used_at.is_(None))
                .values(used_at=now())
            )
        return bool(result.rowcount)

    async def flag_code_reuse(self, code: str) -> None:
        """Remember that a used code was presented again (RFC 6749 §4.1.2)."""
        t = authorization_codes
        async with self.db.begin() as conn:
            await conn.execute(
                t.update().where(t.c.code_hash == sha256_hex(code)).values(reused_at=now())
            )

    async def is_code_reused(self, code: str) -> bool:
        t = authorization_codes
        async with self.db.connect() as conn:
            flagged = await conn.execute(
                sa.select(t.c.reused_at).where(t.c.code_hash == sha256_hex(code))
            )
            return flagged.scalar_one_or_none() is not None

    # Tokens
    async def record_access_token(
        self,
        jti: str,
        client_id: str,
        grant_id: str | None,
        consent_id: str | None,
        expires_at: datetime,
    ) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                access_tokens.insert().values(
                    jti=jti,
                    client_id=client_id,
                    grant_id=grant_id,
                    consent_id=consent_id,
                    expires_at=expires_at,
                )
            )

    async def create_refresh_token(
        self,
        *,
        client_id: str,
        grant_id: str,
        consent_id: str | None,
        customer_ref: str | None,
        scope: str,
        dpop_jkt: str | None,
        expires_at: datetime,
    ) -> str:
        token = secrets.token_urlsafe(32)
        async with self.db.begin() as conn:
            await conn.execute(
                refresh_tokens.insert().values(
                    token_hash=sha256_hex(token),
                    client_id=client_id,
                    grant_id=grant_id,
                    consent_id=consent_id,
                    customer_ref=customer_ref,
                    scope=scope,
                    dpop_jkt=dpop_jkt,
                    created_at=now(),
                    expires_at=expires_at,
                )
            )
        return token

    async def get_refresh_token(self, token: str) -> RefreshToken | None:
        t = refresh_tokens
        async with self.db.connect() as conn:
            row = (
                await conn.execute(t.select().where(t.c.token_hash == sha256_hex(token)))
            ).first()
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

    async def access_token_record(self, jti: str) -> dict[str, Any] | None:
        t = access_tokens
        async with self.db.connect() as conn:
            row = (await conn.execute(t.select().where(t.c.jti == jti))).mappings().first()
        return dict(row) if row else None

    # Revocation
    async def _publish(self, conn: Any, kind: str, value: str, expires_at: datetime) -> None:
        await record_revocation(conn, kind, value, expires_at)
        self.revoked.add(kind, value, expires_at.timestamp())

    async def revoke_access_token(self, jti: str) -> None:
        t = access_tokens
        async with self.db.begin() as conn:
            row = (await conn.execute(t.select().where(t.c.jti == jti))).first()
            if row is None or row.revoked_at is not None:
                return
            await conn.execute(t.update().where(t.c.jti == jti).values(revoked_at=now()))
            await self._publish(conn, "jti", jti, row.expires_at)

    async def revoke_refresh_token(self, token: str) -> None:
        t = refresh_tokens
        async with self.db.begin() as conn:
            await conn.execute(
                t.update()
                .where(t.c.token_hash == sha256_hex(token), t.c.revoked_at.is_(None))
                .values(revoked_at=now())
            )

    async def revoke_grant(self, grant_id: str) -> None:
        """Revoke every token issued from one authorization (e.g. on code reuse)."""
        async with self.db.begin() as conn:
            await self._revoke_where(
                conn, access_tokens.c.grant_id == grant_id, refresh_tokens.c.grant_id == grant_id
            )

    async def revoke_consent_tokens(self, conn: Any, consent_id: str, until: datetime) -> None:
        """Within the caller's transaction: stop every token of a consent."""
        await conn.execute(
            refresh_tokens.update()
            .where(refresh_tokens.c.consent_id == consent_id, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now())
        )
        await self._publish(conn, "consent", consent_id, until)

    async def _revoke_where(self, conn: Any, access_clause: Any, refresh_clause: Any) -> None:
        t = access_tokens
        rows = (
            await conn.execute(
                sa.select(t.c.jti, t.c.expires_at).where(
                    access_clause, t.c.revoked_at.is_(None), t.c.expires_at > now()
                )
            )
        ).all()
        for jti, expires_at in rows:
            await conn.execute(t.update().where(t.c.jti == jti).values(revoked_at=now()))
            await self._publish(conn, "jti", jti, expires_at)
        await conn.execute(
            refresh_tokens.update()
            .where(refresh_clause, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now())
        )

    async def publish(self, kind: str, value: str, expires_at: datetime) -> None:
        async with self.db.begin() as conn:
            await self._publish(conn, kind, value, expires_at)

    async def withdraw(self, kind: str, value: str) -> None:
        """Undo a `client`/`partner` revocation (reinstatement), on every replica.

        Earlier entries end now (so start-up loads and clean-ups agree), and a new, already
        ended entry tells running replicas through the feed.
        """
        stamp = now()
        async with self.db.begin() as conn:
            await conn.execute(
                revocations.update()
                .where(revocations.c.kind == kind, revocations.c.value == value)
                .values(expires_at=stamp)
            )
            await record_revocation(conn, kind, value, stamp)
        self.revoked.remove(kind, value)

    async def purge_expired(self, grace: timedelta = timedelta(hours=1)) -> int:
        """Delete OAuth state nobody can use any more; returns the number of rows removed.

        Codes and revocation entries are kept for `grace` past expiry (reuse detection and
        the feed's look-back need them a little longer).
        """
        cutoff = now() - grace
        removed = 0
        async with self.db.begin() as conn:
            for table, column in (
                (used_jtis, used_jtis.c.expires_at),
                (authorization_requests, authorization_requests.c.expires_at),
                (authorization_codes, authorization_codes.c.expires_at),
                (access_tokens, access_tokens.c.expires_at),
                (refresh_tokens, refresh_tokens.c.expires_at),
                (revocations, revocations.c.expires_at),
            ):
                result = await conn.execute(table.delete().where(column < cutoff))
                removed += result.rowcount or 0
        return removed

    # Replay keys shared by every replica (client assertion jti)
    async def first_use(self, key: str, ttl: int) -> bool:
        expires = now() + timedelta(seconds=ttl)
        try:
            async with self.db.begin() as conn:
                await conn.execute(
                    used_jtis.delete().where(used_jtis.c.key == key, used_jtis.c.expires_at < now())
                )
                await conn.execute(used_jtis.insert().values(key=key, expires_at=expires))
        except IntegrityError:
            return False
        return True


class RevocationFeed:
    """Keeps this replica's `RevocationList` in step with the shared revocations table."""

    def __init__(self, db: Database, revoked: RevocationList, interval: float) -> None:
        self.db = db
        self.revoked = revoked
        self.interval = interval
        self._last_id = 0
        self._task: asyncio.Task[None] | None = None

    # Ids can commit out of order under concurrency; re-reading the last few seconds is
    # harmless (applying an entry is idempotent) and catches a late-committed lower id.
    LOOKBACK = timedelta(seconds=10)

    async def load(self) -> None:
        """Start-up: the latest entry for each revoked thing that is still in force."""
        t, later = revocations, revocations.alias("later")
        superseded = sa.exists().where(
            later.c.kind == t.c.kind, later.c.value == t.c.value, later.c.id > t.c.id
        )
        async with self.db.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(t.c.kind, t.c.value, t.c.expires_at).where(
                        t.c.expires_at > now(), ~superseded
                    )
                )
            ).all()
            last = (await conn.execute(sa.select(sa.func.max(t.c.id)))).scalar_one_or_none()
        for kind, value, expires_at in rows:
            self.revoked.add(kind, value, expires_at.timestamp())
        self._last_id = last or 0

    async def poll(self) -> None:
        t = revocations
        async with self.db.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(t.c.id, t.c.kind, t.c.value, t.c.expires_at)
                    .where(sa.or_(t.c.id > self._last_id, t.c.created_at > now() - self.LOOKBACK))
                    .order_by(t.c.id)
                )
            ).all()
        current = now()
        for row_id, kind, value, expires_at in rows:
            self._last_id = max(self._last_id, row_id)
            if expires_at > current and not self.revoked.is_revoked(kind, value):
                self.revoked.add(kind, value, expires_at.timestamp())
            elif expires_at <= current:
                self.revoked.remove(kind, value)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.poll()
                self.revoked.purge()
            except Exception:  # keep polling; the next round catches up
                log.warning("revocation_poll_failed", exc_info=True)

    async def start(self) -> None:
        await self.load()
        self._task = asyncio.create_task(self._run(), name="revocation-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
