"""Rate limits per key (a client address) whose memory stays bounded, in process or in Redis.

A dictionary of counters per address grows with every address it ever sees, and a flood of
addresses (one IPv6 prefix holds billions) exhausts it. `MemoryRateLimit` keeps GCRA state in
a fixed table instead, indexed by a keyed hash in two rows (a count-min sketch): its size never
changes, and a collision can only make a key's limit stricter, never looser. `RedisRateLimit`
keeps one expiring key per active key in Redis, so every replica counts together; if Redis
fails or takes longer than its deadline (50 ms), it falls back to the memory table rather than
stop admitting requests.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import math
import secrets
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import structlog
from redis.exceptions import RedisError

log = structlog.get_logger("obgw.limits")


@dataclass(frozen=True, slots=True)
class Rate:
    """`count` events per `period` seconds, all of which may come at once."""

    count: int
    period: float

    @property
    def interval(self) -> float:
        return self.period / self.count

    @property
    def tolerance(self) -> float:
        return self.interval * (self.count - 1)


class Decision(NamedTuple):
    is_allowed: bool
    retry_after: float  # seconds until the next event would be allowed (0 when allowed)


class RateLimit(Protocol):
    """Counts one event for `key` and says whether it is within the rate."""

    async def hit(self, key: str) -> Decision: ...


def address_bucket(address: str) -> str:
    """The key a client address is limited under: an IPv6 address by its /64, as one
    subscriber is usually given a whole /64; anything else as it is."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


class MemoryRateLimit:
    """GCRA in a fixed table of `slots` cells per row (see the module docstring)."""

    def __init__(
        self, rate: Rate, *, slots: int = 4096, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.slots = slots
        self._clock = clock
        self._rows = (array("d", bytes(8 * slots)), array("d", bytes(8 * slots)))
        self._salt = secrets.token_bytes(16)  # so nobody can choose keys that collide

    def _cells(self, key: str) -> tuple[int, int]:
        digest = hashlib.blake2b(key.encode(), key=self._salt, digest_size=16).digest()
        return (
            int.from_bytes(digest[:8], "big") % self.slots,
            int.from_bytes(digest[8:], "big") % self.slots,
        )

    async def hit(self, key: str) -> Decision:
        return self.hit_now(key)

    def hit_now(self, key: str) -> Decision:
        """`hit`, synchronously."""
        first, second = self._cells(key)
        rows = self._rows
        now = self._clock()
        arrival = max(rows[0][first], rows[1][second], now)
        if arrival - now > self.rate.tolerance:
            return Decision(False, arrival - self.rate.tolerance - now)
        next_arrival = arrival + self.rate.interval
        rows[0][first] = max(rows[0][first], next_arrival)
        rows[1][second] = max(rows[1][second], next_arrival)
        return Decision(True, 0.0)


# KEYS[1] the key; ARGV: interval, tolerance (seconds). Redis's clock, so replicas agree.
GCRA_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local arrival = tonumber(redis.call('GET', KEYS[1])) or now
if arrival < now then arrival = now end
local interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
if arrival - now > tolerance then
  return {0, tostring(arrival - tolerance - now)}
end
local next_arrival = arrival + interval
redis.call('SET', KEYS[1], tostring(next_arrival), 'PX', math.ceil((next_arrival - now) * 1000))
return {1, '0'}
"""


class RedisRateLimit:
    """GCRA in Redis, one round trip per event; keys are keyed hashes, never the addresses."""

    def __init__(
        self,
        redis: Any,
        rate: Rate,
        *,
        name: str,
        secret: bytes,
        fallback: MemoryRateLimit,
        deadline: float = 0.05,
    ) -> None:
        self.rate = rate
        self.deadline = deadline
        self.prefix = f"obgw:rate:{name}:"
        self._secret = secret
        self._script = redis.register_script(GCRA_SCRIPT)
        self._fallback = fallback

    def redis_key(self, key: str) -> str:
        digest = hashlib.blake2b(key.encode(), key=self._secret[:64], digest_size=16)
        return self.prefix + digest.hexdigest()

    async def hit(self, key: str) -> Decision:
        try:
            # The client's own retries could hold the request for seconds: bound the call.
            async with asyncio.timeout(self.deadline):
                allowed, wait = await self._script(
                    keys=[self.redis_key(key)], args=[self.rate.interval, self.rate.tolerance]
                )
        except (RedisError, OSError, TimeoutError):
            log.warning("rate_limit_redis_unavailable", limit=self.prefix)
            return self._fallback.hit_now(key)
        return Decision(bool(allowed), float(wait))


def retry_after_header(decision: Decision) -> dict[str, str]:
    """The `Retry-After` header (whole seconds, rounded up) for a refused event."""
    return {"Retry-After": str(max(1, math.ceil(decision.retry_after)))}
