"""Replay caches for one-time values (DPoP proof `jti`s, client assertion `jti`s)."""

from __future__ import annotations

import time
from typing import Protocol


class ReplayCache(Protocol):
    """Remembers keys for a while; `first_use` is true only the first time a key is seen."""

    async def first_use(self, key: str, ttl: int) -> bool: ...


class MemoryReplayCache:
    """An in-process replay cache (one replica), purged as it grows."""

    def __init__(self, max_entries: int = 200_000) -> None:
        self._seen: dict[str, float] = {}
        self.max_entries = max_entries

    async def first_use(self, key: str, ttl: int) -> bool:
        now = time.monotonic()
        expiry = self._seen.get(key)
        if expiry is not None and expiry > now:
            return False
        if len(self._seen) >= self.max_entries:
            self._seen = {k: v for k, v in self._seen.items() if v > now}
            if len(self._seen) >= self.max_entries:  # all live: refuse rather than forget
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
