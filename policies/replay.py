"""Replay caches for one-time values (DPoP proof `jti`s, client assertion `jti`s)."""

from __future__ import annotations

import time
from typing import Protocol


class ReplayCache(Protocol):
    """Remembers keys for a while; `first_use` is true only the first time a key is seen."""

    async def first_use(self, key: str, ttl: int) -> bool: ...


class MemoryReplayCache:
    """An in-process replay cache (one replica).

    Keys are kept in insertion order with their expiry; expired keys are dropped from the
    front as new ones arrive, so memory follows the rate of new keys times their TTL.
    Past `max_entries` live keys it refuses (fails closed) rather than forget one.
    """

    def __init__(self, max_entries: int = 2_000_000) -> None:
        self._seen: dict[str, float] = {}
        self.max_entries = max_entries

    def _drop_expired(self, now: float) -> None:
        seen = self._seen
        while seen:
            oldest = next(iter(seen))
            if seen[oldest] > now:
                return
            del seen[oldest]

    async def first_use(self, key: str, ttl: int) -> bool:
        now = time.monotonic()
        self._drop_expired(now)
        expiry = self._seen.get(key)
        if expiry is not None:
            if expiry > now:
                return False
            del self._seen[key]
        if len(self._seen) >= self.max_entries:
            return False
        self._seen[key] = now + ttl
        return True


class RedisReplayCache:
    """A replay cache shared by every replica: one `SET NX EX` per key."""

    def __init__(self, redis: object, prefix: str = "obgw:replay:") -> None:
        self.redis = redis
        self.prefix = prefix

    async def first_use(self, key: str, ttl: int) -> bool:
        result = await self.redis.set(self.prefix + key, b"1", nx=True, ex=ttl)  # type: ignore[attr-defined]
        return bool(result)
