"""The authorization server's state changes, each one unit of work.

authlib's hooks are synchronous and run in a worker thread; they call these coroutines
through `anyio.from_thread`. Each method opens its own transaction over the stores.
"""

from __future__ import annotations

from datetime import timedelta

from gateway.clock import utcnow
from gateway.oauth.access_tokens import AccessTokenRecords
from gateway.oauth.assertions import AssertionReplayCache
from gateway.oauth.codes import AuthorizationCode, AuthorizationCodes
from gateway.oauth.pushed_requests import PushedRequests
from gateway.oauth.refresh_tokens import RefreshToken, RefreshTokens
from gateway.revocations import Revocations
from gateway.storage.database import Database


class OAuthState:
    """Codes, token records and their revocation, for the grants and endpoints."""

    def __init__(self, db: Database, revocations: Revocations) -> None:
        self.db = db
        self.revocations = revocations
        self.requests = PushedRequests()
        self.codes = AuthorizationCodes()
        self.access_tokens = AccessTokenRecords()
        self.refresh_tokens = RefreshTokens()

    async def get_code(self, code: str) -> AuthorizationCode | None:
        async with self.db.read() as conn:
            return await self.codes.get(conn, code)

    async def redeem_code(self, code: str) -> bool:
        """Mark the code used; false if another request used it first."""
        async with self.db.transaction() as uow:
            return await self.codes.mark_used(uow.conn, code)

    async def flag_code_reuse(self, code: str) -> None:
        async with self.db.transaction() as uow:
            await self.codes.flag_reuse(uow.conn, code)

    async def is_code_reused(self, code: str) -> bool:
        async with self.db.read() as conn:
            return await self.codes.is_reused(conn, code)

    async def is_grant_reused(self, grant_id: str) -> bool:
        async with self.db.read() as conn:
            return await self.codes.is_grant_reused(conn, grant_id)

    async def revoke_grant(self, grant_id: str) -> None:
        """Revoke every token issued from one authorization (e.g. on code reuse)."""
        async with self.db.transaction() as uow:
            for jti, expires_at in await self.access_tokens.live_of_grant(uow.conn, grant_id):
                await self.access_tokens.mark_revoked(uow.conn, jti)
                await self.revocations.record(uow, "jti", jti, expires_at)
            await self.refresh_tokens.revoke_for_grant(uow.conn, grant_id)

    async def get_refresh_token(self, token: str) -> RefreshToken | None:
        async with self.db.read() as conn:
            return await self.refresh_tokens.get(conn, token)

    async def revoke_access_token(self, jti: str) -> None:
        async with self.db.transaction() as uow:
            record = await self.access_tokens.get(uow.conn, jti)
            if record is None or not await self.access_tokens.mark_revoked(uow.conn, jti):
                return
            await self.revocations.record(uow, "jti", jti, record.expires_at)

    async def revoke_refresh_token(self, token: str) -> None:
        """Revoke a refresh token and every token of its grant."""
        async with self.db.read() as conn:
            record = await self.refresh_tokens.get(conn, token)
        if record is not None:
            await self.revoke_grant(record.grant_id)

    async def purge_expired(self, grace: timedelta = timedelta(hours=1)) -> int:
        """Delete OAuth state nobody can use any more; returns the number of rows removed.

        Codes and revocation entries are kept for `grace` past expiry (reuse detection and
        the feed's look-back need them a little longer).
        """
        cutoff = utcnow() - grace
        async with self.db.transaction() as uow:
            conn = uow.conn
            return sum(
                [
                    await AssertionReplayCache.purge(conn, cutoff),
                    await self.requests.purge(conn, cutoff),
                    await self.codes.purge(conn, cutoff),
                    await self.access_tokens.purge(conn, cutoff),
                    await self.refresh_tokens.purge(conn, cutoff),
                    await Revocations.purge(conn, cutoff),
                ]
            )
