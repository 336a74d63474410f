"""Limits on failed customer authentication at the authorize pages.

Failures are counted in a shared store (the database, or Redis when configured), keyed by
the pushed authorization request and by the customer, never in the interaction token: the
limits hold on every replica and however often a token is re-issued. An attempt is counted
*before* the password or code is checked and given back if it succeeds, so concurrent
guesses cannot outrun a limit: of N simultaneous attempts at most `limit` are checked.

Past the limit for a request, the request is locked (the authorize pages then consume its
`request_uri`); past the limit for a customer, the customer is locked for `lockout`
seconds, whichever partner's request they log in through. Both limits count failures
within the last `lockout` seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Protocol

import sqlalchemy as sa
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.clock import utcnow
from gateway.ids import sha256_hex
from gateway.storage.database import Database
from gateway.storage.tables import authorization_attempts


class Factor(StrEnum):
    PASSWORD = "password"
    CODE = "code"


class LockScope(StrEnum):
    """What a lock covers: one pushed request, or one customer for every partner."""

    REQUEST = "request"
    CUSTOMER = "customer"


class TooManyAttempts(Exception):
    """The request or the customer is locked: nothing may be checked."""

    def __init__(self, scope: LockScope) -> None:
        super().__init__(f"the {scope} is locked")
        self.scope = scope


class AttemptStoreUnavailable(Exception):
    """The shared store could not be reached; authentication fails closed."""


class AttemptStore(Protocol):
    """Where attempts and locks are kept, shared by every replica."""

    async def reserve(self, subject: str, window: float) -> tuple[str, int]:
        """Record one attempt; its token and the attempts within `window` s, itself included."""
        ...

    async def release(self, subject: str, token: str) -> None:
        """Forget the attempt `token` (it succeeded)."""
        ...

    async def lock(self, subject: str, seconds: float) -> None: ...

    async def locked(self, subjects: Sequence[str]) -> set[str]:
        """Those of `subjects` that are locked now."""
        ...


class DatabaseAttempts:
    """Attempts and locks as rows in `authorization_attempts`.

    The attempt commits before it is counted: of concurrent attempts, the last to count
    sees every earlier one.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    async def reserve(self, subject: str, window: float) -> tuple[str, int]:
        t = authorization_attempts
        now = utcnow()
        async with self.db.transaction() as uow:
            inserted = await uow.conn.execute(
                t.insert()
                .values(
                    subject=subject,
                    kind="attempt",
                    created_at=now,
                    expires_at=now + timedelta(seconds=window),
                )
                .returning(t.c.id)
            )
            token = str(inserted.scalar_one())
        async with self.db.read() as conn:
            count = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(t)
                .where(t.c.subject == subject, t.c.kind == "attempt", t.c.expires_at > utcnow())
            )
        return token, int(count or 0)

    async def release(self, subject: str, token: str) -> None:
        t = authorization_attempts
        async with self.db.transaction() as uow:
            await uow.conn.execute(t.delete().where(t.c.id == int(token), t.c.subject == subject))

    async def lock(self, subject: str, seconds: float) -> None:
        now = utcnow()
        async with self.db.transaction() as uow:
            await uow.conn.execute(
                authorization_attempts.insert().values(
                    subject=subject,
                    kind="lock",
                    created_at=now,
                    expires_at=now + timedelta(seconds=seconds),
                )
            )

    async def locked(self, subjects: Sequence[str]) -> set[str]:
        t = authorization_attempts
        async with self.db.read() as conn:
            rows = await conn.execute(
                sa.select(t.c.subject)
                .where(t.c.subject.in_(subjects), t.c.kind == "lock", t.c.expires_at > utcnow())
                .distinct()
            )
            return {row.subject for row in rows}

    async def purge_expired(self) -> int:
        """Delete attempts that fell out of their window and locks that ended."""
        t = authorization_attempts
        async with self.db.transaction() as uow:
            result = await uow.conn.execute(t.delete().where(t.c.expires_at < utcnow()))
        return result.rowcount or 0


# A sliding window per subject: drop what fell out of it, add this attempt, count.
_RESERVE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(ARGV[2] * 1000))
return redis.call('ZCARD', KEYS[1])
"""


class RedisAttempts:
    """Attempts as a sorted set per subject, locks as keys that expire; one round trip each.

    A Redis failure raises `AttemptStoreUnavailable`: no password or code is checked
    while failures cannot be counted.
    """

    def __init__(self, redis: Redis, prefix: str = "obgw:attempts:") -> None:
        self.redis = redis
        self.prefix = prefix

    async def reserve(self, subject: str, window: float) -> tuple[str, int]:
        token = secrets.token_hex(8)
        try:
            count = await self.redis.eval(
                _RESERVE, 1, self.prefix + subject, repr(time.time()), repr(window), token
            )
        except RedisError as exc:
            raise AttemptStoreUnavailable(str(exc)) from exc
        return token, int(count)

    async def release(self, subject: str, token: str) -> None:
        try:
            await self.redis.zrem(self.prefix + subject, token)
        except RedisError as exc:
            raise AttemptStoreUnavailable(str(exc)) from exc

    async def lock(self, subject: str, seconds: float) -> None:
        try:
            await self.redis.set(self.prefix + "lock:" + subject, b"1", px=int(seconds * 1000))
        except RedisError as exc:
            raise AttemptStoreUnavailable(str(exc)) from exc

    async def locked(self, subjects: Sequence[str]) -> set[str]:
        try:
            values = await self.redis.mget([self.prefix + "lock:" + s for s in subjects])
        except RedisError as exc:
            raise AttemptStoreUnavailable(str(exc)) from exc
        return {s for s, v in zip(subjects, values, strict=True) if v is not None}


@dataclass(frozen=True, slots=True)
class AttemptLimits:
    """Failures allowed per request and per customer, and how long a lock lasts."""

    passwords: int = 5
    codes: int = 3
    lockout: float = 900.0

    def of(self, factor: Factor) -> int:
        return self.passwords if factor is Factor.PASSWORD else self.codes


@dataclass(frozen=True, slots=True)
class Attempt:
    """One password or code being checked, counted against its request and its customer."""

    factor: Factor
    request: str
    customer: str
    request_token: str
    customer_token: str
    request_count: int
    customer_count: int


class AuthorizationAttempts:
    """Counts attempts per pushed request and per customer, and locks either past its limit.

    A customer is known by `customer_key`, which the pages derive from the provider's
    customer reference (or the login name when there is no such customer); it is stored
    only as a keyed hash.
    """

    def __init__(self, store: AttemptStore, limits: AttemptLimits, secret: bytes) -> None:
        self.store = store
        self.limits = limits
        self._key = hmac.new(secret, b"authorization-attempts", hashlib.sha256).digest()

    def _request(self, request_uri: str) -> str:
        return "request:" + sha256_hex(request_uri)

    def _customer(self, customer_key: str) -> str:
        return "customer:" + hmac.new(self._key, customer_key.encode(), hashlib.sha256).hexdigest()

    async def begin(self, factor: Factor, request_uri: str, customer_key: str) -> Attempt:
        """Count an attempt before it is checked; `TooManyAttempts` if it may not be."""
        request, customer = self._request(request_uri), self._customer(customer_key)
        await self._refuse_locked(request, customer)
        window, limit = self.limits.lockout, self.limits.of(factor)
        request_token, request_count = await self.store.reserve(f"{request}:{factor}", window)
        customer_token, customer_count = await self.store.reserve(f"{customer}:{factor}", window)
        if request_count > limit:
            await self.store.lock(request, self.limits.lockout)
            raise TooManyAttempts(LockScope.REQUEST)
        if customer_count > limit:
            await self.store.lock(customer, self.limits.lockout)
            raise TooManyAttempts(LockScope.CUSTOMER)
        return Attempt(
            factor,
            request,
            customer,
            request_token,
            customer_token,
            request_count,
            customer_count,
        )

    async def succeeded(self, attempt: Attempt) -> None:
        """The password or code was right: it does not count as a failure."""
        await self.store.release(f"{attempt.request}:{attempt.factor}", attempt.request_token)
        await self.store.release(f"{attempt.customer}:{attempt.factor}", attempt.customer_token)

    async def failed(self, attempt: Attempt) -> list[LockScope]:
        """The password or code was wrong: lock what reached its limit (the request first)."""
        limit = self.limits.of(attempt.factor)
        locked = []
        if attempt.request_count >= limit:
            await self.store.lock(attempt.request, self.limits.lockout)
            locked.append(LockScope.REQUEST)
        if attempt.customer_count >= limit:
            await self.store.lock(attempt.customer, self.limits.lockout)
            locked.append(LockScope.CUSTOMER)
        return locked

    async def check(self, request_uri: str, customer_key: str) -> None:
        """`TooManyAttempts` when the request or the customer is locked."""
        await self._refuse_locked(self._request(request_uri), self._customer(customer_key))

    async def is_request_locked(self, request_uri: str) -> bool:
        subject = self._request(request_uri)
        return subject in await self.store.locked([subject])

    async def _refuse_locked(self, request: str, customer: str) -> None:
        locked = await self.store.locked([request, customer])
        if request in locked:
            raise TooManyAttempts(LockScope.REQUEST)
        if customer in locked:
            raise TooManyAttempts(LockScope.CUSTOMER)
