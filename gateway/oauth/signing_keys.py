"""The signing keys of every replica, in the shared database, polled like the revocation feed.

`obgw keys rotate` or `obgw keys revoke` (or any replica) changes the `signing_keys` table;
each replica re-reads it every poll interval, so within a second or two every replica signs
with the new key, stops trusting a revoked one and publishes the same JWKS, without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.clock import utcnow
from gateway.oauth.keys import KeyRing, KeySealer, Signer, SigningKey, generate_key
from gateway.oauth.keys_file import forget_keys_file, read_keys_file
from gateway.settings import Settings
from gateway.storage.database import Database
from gateway.storage.tables import signing_keys
from policies.access_tokens import VerificationKey

log = structlog.get_logger("obgw.keys")

# An unknown `kid` makes this replica re-read the keys at once, but never more often than
# this: tokens naming random kids cannot turn into a flood of database reads.
CATCH_UP_EVERY = 0.2


def _row(row: Any) -> SigningKey:
    return SigningKey(
        kid=row.kid,
        alg=row.alg,
        public_jwk=dict(row.public_jwk),
        created_at=row.created_at,
        sealed=row.sealed_private_jwk,
        is_active=bool(row.active),
        retired_at=row.retired_at,
        revoked_at=row.revoked_at,
    )


class SigningKeyRows:
    """Rows of the `signing_keys` table, within the caller's transaction."""

    async def all(self, conn: AsyncConnection) -> list[SigningKey]:
        rows = await conn.execute(signing_keys.select().order_by(signing_keys.c.created_at))
        return [_row(r) for r in rows]

    async def insert(self, conn: AsyncConnection, key: SigningKey) -> None:
        await conn.execute(
            signing_keys.insert().values(
                kid=key.kid,
                alg=key.alg,
                public_jwk=key.public_jwk,
                sealed_private_jwk=key.sealed,
                active=True if key.is_active else None,
                created_at=key.created_at,
                retired_at=key.retired_at,
                revoked_at=key.revoked_at,
            )
        )

    async def retire_active(self, conn: AsyncConnection, at: datetime) -> None:
        """Retire the active key, deleting its private part."""
        t = signing_keys
        await conn.execute(
            t.update()
            .where(t.c.active.is_(True))
            .values(active=None, retired_at=at, sealed_private_jwk=None)
        )

    async def revoke(self, conn: AsyncConnection, kid: str, at: datetime) -> None:
        t = signing_keys
        await conn.execute(
            t.update()
            .where(t.c.kid == kid)
            .values(
                active=None,
                sealed_private_jwk=None,
                revoked_at=at,
                retired_at=sa.func.coalesce(t.c.retired_at, at),
            )
        )

    async def purge(self, conn: AsyncConnection, cutoff: datetime) -> int:
        """Delete keys retired (or revoked) before `cutoff`: no token they signed is valid."""
        result = await conn.execute(signing_keys.delete().where(signing_keys.c.retired_at < cutoff))
        return result.rowcount or 0


class SigningKeys:
    """Generates, rotates and revokes the gateway's signing keys and keeps `ring` current."""

    def __init__(
        self,
        db: Database,
        sealer: KeySealer,
        *,
        grace: timedelta,
        interval: float = 0.5,
        legacy_file: Path | None = None,
    ) -> None:
        self.db = db
        self.sealer = sealer
        self.grace = grace
        self.interval = interval
        self.legacy_file = legacy_file
        self.rows = SigningKeyRows()
        self.ring = KeyRing(grace)
        self.last_polled: float | None = None
        self._seen: tuple[tuple[Any, ...], ...] | None = None
        self._task: asyncio.Task[None] | None = None
        self._next_catch_up: asyncio.Task[None] | None = None
        self._last_catch_up = float("-inf")

    # `policies.access_tokens.TokenKeys`
    @property
    def version(self) -> int:
        return self.ring.version

    def verification_key(self, kid: str) -> VerificationKey | None:
        return self.ring.verification_key(kid)

    async def catch_up(self) -> None:
        """Re-read the keys in a read that starts after this call; concurrent callers share
        it, and reads are at least `CATCH_UP_EVERY` seconds apart."""
        if self._next_catch_up is None:
            self._next_catch_up = asyncio.create_task(self._catch_up(), name="signing-key-read")
        await asyncio.shield(self._next_catch_up)

    async def _catch_up(self) -> None:
        loop = asyncio.get_running_loop()
        wait = self._last_catch_up + CATCH_UP_EVERY - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        # Callers from now on need a read that starts later than this one.
        self._next_catch_up = None
        self._last_catch_up = loop.time()
        try:
            await self.poll()
        except Exception:  # the token is refused as unknown; the feed catches up later
            log.error("signing_key_poll_failed", exc_info=True)

    # what tokens and the JWKS need
    @property
    def active(self) -> Signer:
        return self.ring.signer

    def private_key(self, kid: str) -> Any:
        """The private key of the active key `kid` (retired keys have none)."""
        signer = self.ring.signer
        if signer.kid != kid:
            raise KeyError(kid)
        return signer.key

    def jwks(self) -> dict[str, Any]:
        return self.ring.jwks()

    # changes, each one transaction, applied here at once and elsewhere by the poll
    async def ensure(self) -> None:
        """Load the keys; on the first start, import `keys.json` or generate the first key."""
        async with self.db.read() as conn:
            keys = await self.rows.all(conn)
        if not any(k.is_active for k in keys):
            path = self.legacy_file
            legacy = read_keys_file(path, self.sealer, self.grace) if path and not keys else []
            first = legacy or [generate_key("ES256", self.sealer)]
            try:
                async with self.db.transaction() as uow:
                    for key in first:
                        await self.rows.insert(uow.conn, key)
            except IntegrityError:
                pass  # another replica starting at the same time was first
            else:
                if legacy and path is not None:
                    forget_keys_file(path)
        await self.poll()

    async def rotate(self, alg: str = "ES256") -> SigningKey:
        """Make a new key active; the previous one retires (its private part is deleted)."""
        new = generate_key(alg, self.sealer)
        async with self.db.transaction() as uow:
            now = utcnow()
            await self.rows.retire_active(uow.conn, now)
            await self.rows.insert(uow.conn, new)
            await self.rows.purge(uow.conn, now - self.grace)
        await self.poll()
        log.info("signing_key_rotated", kid=new.kid, alg=new.alg)
        return new

    async def revoke(self, kid: str) -> tuple[SigningKey, SigningKey | None] | None:
        """Stop trusting `kid` at once; if it was active, a new key of its algorithm replaces it.

        Returns the revoked key and its replacement, or None when there is no such live key.
        """
        async with self.db.read() as conn:
            key = next((k for k in await self.rows.all(conn) if k.kid == kid), None)
        if key is None or key.revoked_at is not None:
            return None
        replacement = generate_key(key.alg, self.sealer) if key.is_active else None
        async with self.db.transaction() as uow:
            now = utcnow()
            await self.rows.revoke(uow.conn, kid, now)
            if replacement is not None:
                await self.rows.insert(uow.conn, replacement)
        await self.poll()
        log.warning("signing_key_revoked", kid=kid)
        return key, replacement

    async def all(self) -> list[SigningKey]:
        async with self.db.read() as conn:
            return await self.rows.all(conn)

    async def purge(self) -> int:
        """Housekeeping: delete keys no valid token can have been signed with."""
        async with self.db.transaction() as uow:
            return await self.rows.purge(uow.conn, utcnow() - self.grace)

    # the feed
    async def poll(self) -> None:
        """Re-read the table; rebuild the ring when anything changed."""
        async with self.db.read() as conn:
            keys = await self.rows.all(conn)
        seen = tuple((k.kid, k.is_active, k.retired_at, k.revoked_at) for k in keys)
        if seen != self._seen:
            active = next((k for k in keys if k.is_active), None)
            current = self.ring.current_signer
            if active is None:
                signer = None
            elif current is not None and current.kid == active.kid:
                signer = current
            else:
                signer = self.sealer.open(active)
            self.ring.apply(keys, signer)
            self._seen = seen
        self.last_polled = asyncio.get_running_loop().time()

    def lag(self) -> float | None:
        """Seconds since the keys were last read (None before the first read)."""
        if self.last_polled is None:
            return None
        return asyncio.get_running_loop().time() - self.last_polled

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.poll()
            except Exception:  # keep polling; the next round catches up
                log.error("signing_key_poll_failed", exc_info=True)

    async def start(self) -> None:
        await self.ensure()
        self._task = asyncio.create_task(self._run(), name="signing-key-feed")

    async def stop(self) -> None:
        for task in (self._task, self._next_catch_up):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def build_signing_keys(settings: Settings, db: Database, secret: bytes) -> SigningKeys:
    """The signing keys in `db`, sealed under `secret`; a retired key is trusted for as long
    as a token it signed may live (plus a minute), and `keys.json` of an earlier version is
    imported on the first start."""
    return SigningKeys(
        db,
        KeySealer(secret),
        grace=timedelta(seconds=settings.access_token_ttl + 60),
        interval=settings.revocation_poll_interval,
        legacy_file=Path(settings.data_dir) / "keys.json",
    )
