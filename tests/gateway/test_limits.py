"""Rate limits per address: exact for one key, bounded in memory, shared through Redis."""

from __future__ import annotations

import secrets
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.limits import MemoryRateLimit, Rate, RedisRateLimit, address_bucket
from tests.conftest import REDIS_URL, make_settings, service_missing

TEN_AN_HOUR = Rate(count=10, period=3600)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestMemoryRateLimit:
    async def test_a_burst_then_one_per_interval(self) -> None:
        """Ten at once pass, the eleventh waits one interval (360 s), then one more passes."""
        clock = FakeClock()
        limit = MemoryRateLimit(TEN_AN_HOUR, clock=clock)
        assert [(await limit.hit("a")).is_allowed for _ in range(10)] == [True] * 10
        refused = await limit.hit("a")
        assert not refused.is_allowed
        assert refused.retry_after == pytest.approx(360)
        clock.now += 359
        assert not (await limit.hit("a")).is_allowed
        clock.now += 1
        assert (await limit.hit("a")).is_allowed

    async def test_keys_are_limited_apart(self) -> None:
        """One key at its limit leaves another untouched."""
        limit = MemoryRateLimit(TEN_AN_HOUR, clock=FakeClock())
        for _ in range(10):
            await limit.hit("a")
        assert not (await limit.hit("a")).is_allowed
        assert (await limit.hit("b")).is_allowed

    async def test_memory_does_not_grow_with_keys(self) -> None:
        """Fifty thousand distinct keys leave the memory where it was."""
        limit = MemoryRateLimit(TEN_AN_HOUR, clock=FakeClock())
        await limit.hit("warm-up")
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            for i in range(50_000):
                limit.hit_now(f"198.51.{i // 256}.{i % 256}")
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
        assert grown < 16 * 1024

    async def test_a_flood_of_keys_does_not_free_a_limited_one(self) -> None:
        """Unlike an evicting cache, other keys cannot push a limited key out of the table."""
        limit = MemoryRateLimit(TEN_AN_HOUR, clock=FakeClock())
        for _ in range(10):
            await limit.hit("attacker")
        for i in range(50_000):
            limit.hit_now(f"flood-{i}")
        assert not (await limit.hit("attacker")).is_allowed

    def test_ipv6_clients_are_limited_by_their_64(self) -> None:
        """An IPv6 client cannot rotate addresses inside its /64 to escape the limit."""
        assert address_bucket("2001:db8:1:2::1") == address_bucket("2001:db8:1:2:ffff::9")
        assert address_bucket("2001:db8:1:2::1") != address_bucket("2001:db8:1:3::1")
        assert address_bucket("198.51.100.7") == "198.51.100.7"


@pytest.fixture
async def redis_client() -> AsyncIterator[object]:
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=0.5)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        service_missing("Redis at " + REDIS_URL, exc)
    yield client
    await client.aclose()


def _redis_limit(client: object, name: str, secret: bytes = b"s" * 32) -> RedisRateLimit:
    fallback = MemoryRateLimit(TEN_AN_HOUR)
    return RedisRateLimit(client, TEN_AN_HOUR, name=name, secret=secret, fallback=fallback)


class TestRedisRateLimit:
    async def test_replicas_share_one_limit(self, redis_client: object) -> None:
        """Two replicas' limiters count together: ten in all, not ten each."""
        name = f"test-{secrets.token_hex(4)}"
        one, two = _redis_limit(redis_client, name), _redis_limit(redis_client, name)
        decisions = [await (one if i % 2 else two).hit("198.51.100.7") for i in range(12)]
        assert [d.is_allowed for d in decisions] == [True] * 10 + [False] * 2
        assert 0 < decisions[-1].retry_after <= 360
        assert (await one.hit("198.51.100.8")).is_allowed

    async def test_keys_hold_no_address_and_expire(self, redis_client: object) -> None:
        """Redis holds a keyed hash per address, never the address, and only while it counts."""
        name = f"test-{secrets.token_hex(4)}"
        limit = _redis_limit(redis_client, name)
        await limit.hit("198.51.100.7")
        keys = [k.decode() async for k in redis_client.scan_iter(f"obgw:rate:{name}:*")]  # type: ignore[attr-defined]
        assert keys == [limit.redis_key("198.51.100.7")]
        assert "198.51.100.7" not in keys[0]
        assert 0 < await redis_client.pttl(keys[0]) <= 360_000  # type: ignore[attr-defined]

    async def test_without_redis_the_memory_table_still_limits(self) -> None:
        """A Redis that does not answer falls back, within its deadline, to the local table,
        which still refuses."""
        import redis.asyncio as redis

        client = redis.Redis(host="127.0.0.1", port=1)
        started = time.monotonic()
        try:
            limit = _redis_limit(client, "down")
            decisions = [await limit.hit("198.51.100.7") for _ in range(11)]
        finally:
            await client.aclose()
        assert [d.is_allowed for d in decisions] == [True] * 10 + [False]
        assert time.monotonic() - started < 11 * 0.25

    async def test_sign_ups_count_across_replicas(
        self, redis_client: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With OBGW_REDIS_URL two replicas share the sign-up limit of an address."""
        monkeypatch.setenv("OBGW_SECRET_KEY", secrets.token_hex(32))
        body = {
            "partner_name": "阳光小学",
            "sector": "school",
            "contact_email": "it@school.example",
        }
        address = f"198.51.100.{secrets.randbelow(250)}"
        statuses = []
        for replica in ("a", "b"):
            settings = make_settings(
                tmp_path / replica, redis_url=REDIS_URL, trusted_proxies="127.0.0.1"
            )
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
                async with httpx.AsyncClient(transport=transport, base_url=settings.issuer) as http:
                    for _ in range(6):
                        response = await http.post(
                            "/sandbox/signup", json=body, headers={"X-Forwarded-For": address}
                        )
                        statuses.append(response.status_code)
        assert statuses == [201] * 10 + [429] * 2
