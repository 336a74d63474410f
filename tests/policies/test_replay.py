"""Replay caches: a one-time value is accepted once, on one replica or across many."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable

import pytest

from policies.replay import MemoryReplayCache, RedisReplayCache, ReplayCache
from tests.conftest import REDIS_URL, service_missing


@pytest.fixture
async def redis_clients() -> AsyncIterator[Callable[[], object]]:
    """A factory of independent Redis connections (one per simulated replica)."""
    import redis.asyncio as redis

    made: list[redis.Redis] = []

    def connect() -> redis.Redis:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        made.append(client)
        return client

    try:
        await connect().ping()
    except (OSError, redis.RedisError) as exc:
        for client in made:
            await client.aclose()
        service_missing(f"Redis at {REDIS_URL}", exc)
    yield connect
    for client in made:
        await client.aclose()


@pytest.fixture
async def prefix(redis_clients: Callable[[], object]) -> AsyncIterator[str]:
    """A key prefix private to this test; its keys are deleted afterwards."""
    value = f"obgw:test:replay:{secrets.token_hex(6)}:"
    yield value
    client = redis_clients()
    keys = [k async for k in client.scan_iter(match=value + "*")]  # type: ignore[attr-defined]
    if keys:
        await client.delete(*keys)  # type: ignore[attr-defined]


@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest) -> ReplayCache:
    """Each replay cache implementation, behind the one protocol."""
    if request.param == "memory":
        return MemoryReplayCache()
    connect = request.getfixturevalue("redis_clients")
    return RedisReplayCache(connect(), prefix=request.getfixturevalue("prefix"))


class TestReplayCache:
    async def test_first_use_then_replay(self, cache: ReplayCache) -> None:
        """A key is fresh the first time and a replay every time after."""
        assert await cache.first_use("dpop:jkt:jti-1", ttl=60) is True
        assert await cache.first_use("dpop:jkt:jti-1", ttl=60) is False
        assert await cache.first_use("dpop:jkt:jti-1", ttl=60) is False

    async def test_keys_are_isolated(self, cache: ReplayCache) -> None:
        """Using one key does not consume another, even a near-identical one."""
        assert await cache.first_use("dpop:a:jti", ttl=60)
        assert await cache.first_use("dpop:b:jti", ttl=60)
        assert await cache.first_use("dpop:a:jti2", ttl=60)
        assert await cache.first_use("dpop:a:JTI", ttl=60)
        assert not await cache.first_use("dpop:a:jti", ttl=60)

    async def test_key_expires_after_ttl(self, cache: ReplayCache) -> None:
        """After its ttl a key may be used again (the replay window is bounded)."""
        assert await cache.first_use("short-lived", ttl=1)
        assert not await cache.first_use("short-lived", ttl=1)
        await asyncio.sleep(1.1)
        assert await cache.first_use("short-lived", ttl=1)
        assert not await cache.first_use("short-lived", ttl=1)

    async def test_concurrent_first_use_admits_exactly_one(self, cache: ReplayCache) -> None:
        """Many simultaneous uses of one key: exactly one is the first."""
        results = await asyncio.gather(*(cache.first_use("raced", ttl=60) for _ in range(50)))
        assert results.count(True) == 1


class TestMemoryReplayCache:
    async def test_full_cache_purges_expired_entries(self) -> None:
        """When full, expired entries make room for new keys."""
        cache = MemoryReplayCache(max_entries=2)
        assert await cache.first_use("a", ttl=1)
        assert await cache.first_use("b", ttl=1)
        await asyncio.sleep(1.1)
        assert await cache.first_use("c", ttl=60)
        assert not await cache.first_use("c", ttl=60)

    async def test_full_cache_of_live_entries_refuses(self) -> None:
        """When every entry is still live, a new key is refused rather than a replay let in."""
        cache = MemoryReplayCache(max_entries=2)
        assert await cache.first_use("a", ttl=60)
        assert await cache.first_use("b", ttl=60)
        assert not await cache.first_use("c", ttl=60)
        assert not await cache.first_use("a", ttl=60)


class TestRedisReplayCache:
    async def test_replicas_share_state(
        self, redis_clients: Callable[[], object], prefix: str
    ) -> None:
        """Two caches on two connections (two replicas) see each other's keys."""
        one = RedisReplayCache(redis_clients(), prefix=prefix)
        two = RedisReplayCache(redis_clients(), prefix=prefix)
        assert await one.first_use("jti-shared", ttl=60)
        assert not await two.first_use("jti-shared", ttl=60)
        assert await two.first_use("jti-other", ttl=60)
        assert not await one.first_use("jti-other", ttl=60)

    async def test_replicas_race_admits_exactly_one(
        self, redis_clients: Callable[[], object], prefix: str
    ) -> None:
        """Replicas racing on one key: exactly one of them accepts it."""
        replicas = [RedisReplayCache(redis_clients(), prefix=prefix) for _ in range(5)]
        results = await asyncio.gather(
            *(r.first_use("jti-raced", ttl=60) for r in replicas for _ in range(4))
        )
        assert results.count(True) == 1

    async def test_key_carries_prefix_and_ttl(
        self, redis_clients: Callable[[], object], prefix: str
    ) -> None:
        """The stored key is namespaced by the prefix and expires by itself."""
        client = redis_clients()
        await RedisReplayCache(client, prefix=prefix).first_use("jti-ttl", ttl=30)
        ttl = await client.ttl(prefix + "jti-ttl")  # type: ignore[attr-defined]
        assert 0 < ttl <= 30

    async def test_prefixes_isolate_deployments(
        self, redis_clients: Callable[[], object], prefix: str
    ) -> None:
        """Caches with different prefixes (two gateways on one Redis) do not collide."""
        one = RedisReplayCache(redis_clients(), prefix=prefix + "a:")
        two = RedisReplayCache(redis_clients(), prefix=prefix + "b:")
        assert await one.first_use("jti", ttl=60)
        assert await two.first_use("jti", ttl=60)
