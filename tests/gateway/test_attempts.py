"""Failed-login counting in the shared store: the database (SQLite, PostgreSQL) or Redis.

The limits hold across replicas and against concurrent guesses, because every attempt is
counted in the store before it is checked.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from gateway.app import create_app
from gateway.oauth.attempts import (
    AttemptStore,
    AttemptStoreUnavailable,
    DatabaseAttempts,
    RedisAttempts,
)
from gateway.settings import Settings
from gateway.storage.database import Database
from gateway.storage.tables import authorization_attempts
from tests.conftest import REDIS_URL, make_settings, service_missing
from tests.factories import Form, log_in, login_form, pushed_request_uri, sandbox_partner


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis, when it answers."""
    import redis.asyncio as redis

    async def ping() -> None:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        try:
            await client.ping()
        finally:
            await client.aclose()

    try:
        asyncio.run(ping())
    except (OSError, redis.RedisError) as exc:
        service_missing(f"Redis at {REDIS_URL}", exc)
    return REDIS_URL


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the store under test keeps its counts."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    if request.param == "redis":
        return str(request.getfixturevalue("redis_url"))
    return make_settings(tmp_path).database_url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[AttemptStore]:
    """Each attempt store, behind the one protocol; a Redis store under its own prefix."""
    if store_url.startswith("redis"):
        import redis.asyncio as redis

        client = redis.Redis.from_url(store_url)
        prefix = f"obgw:test:attempts:{secrets.token_hex(6)}:"
        yield RedisAttempts(client, prefix=prefix)
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
        return
    db = Database(store_url)
    await db.upgrade()
    yield DatabaseAttempts(db)
    await db.dispose()


class TestAttemptStore:
    async def test_counts_within_the_window(self, store: AttemptStore) -> None:
        """Attempts on one subject count up, another subject counts apart, and attempts
        older than the window no longer count."""
        counts = [(await store.reserve("customer:a:password", 0.5))[1] for _ in range(3)]
        assert counts == [1, 2, 3]
        assert (await store.reserve("customer:b:password", 0.5))[1] == 1
        await asyncio.sleep(0.6)
        assert (await store.reserve("customer:a:password", 0.5))[1] == 1

    async def test_release_gives_an_attempt_back(self, store: AttemptStore) -> None:
        """A released attempt (it succeeded) no longer counts; the others still do."""
        first, _ = await store.reserve("request:r:code", 60)
        await store.reserve("request:r:code", 60)
        await store.release("request:r:code", first)
        assert (await store.reserve("request:r:code", 60))[1] == 2

    async def test_locks_expire(self, store: AttemptStore) -> None:
        """A lock holds for its period and only for its subject."""
        await store.lock("customer:a", 0.5)
        assert await store.locked(["customer:a", "customer:b"]) == {"customer:a"}
        await asyncio.sleep(0.6)
        assert await store.locked(["customer:a", "customer:b"]) == set()

    async def test_concurrent_attempts_never_all_pass(self, store: AttemptStore) -> None:
        """Of twenty simultaneous attempts, at most five see a count within a limit of five."""
        results = await asyncio.gather(
            *(store.reserve("request:burst:password", 60) for _ in range(20))
        )
        counts = [count for _, count in results]
        assert sum(1 for c in counts if c <= 5) <= 5
        assert max(counts) == 20


class TestRedisFailure:
    async def test_unreachable_redis_fails_closed(self) -> None:
        """When Redis cannot be reached, attempts are refused rather than left uncounted."""
        import redis.asyncio as redis

        client = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
        try:
            with pytest.raises(AttemptStoreUnavailable):
                await RedisAttempts(client).reserve("request:x:password", 60)
        finally:
            await client.aclose()


Replicas = tuple[httpx.AsyncClient, httpx.AsyncClient, Settings]


@asynccontextmanager
async def two_gateways(settings: Settings) -> AsyncIterator[Replicas]:
    """Two gateways on one database (and one Redis, when configured), and their settings."""
    apps = [create_app(settings), create_app(settings)]
    async with apps[0].router.lifespan_context(apps[0]), apps[1].router.lifespan_context(apps[1]):
        clients = [
            httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url=settings.issuer)
            for a in apps
        ]
        try:
            yield clients[0], clients[1], settings
        finally:
            for c in clients:
                await c.aclose()


@pytest.fixture(params=["database", "redis"])
def counted_in(request: pytest.FixtureRequest) -> str:
    """`OBGW_REDIS_URL` for the replicas: empty (count in the database) or the test Redis."""
    return str(request.getfixturevalue("redis_url")) if request.param == "redis" else ""


@pytest.fixture
async def replicas(settings: Settings, counted_in: str) -> AsyncIterator[Replicas]:
    """Two replicas counting in the shared database, or in the shared Redis."""
    async with two_gateways(settings.model_copy(update={"redis_url": counted_in})) as replicas:
        yield replicas


class TestAttemptsAcrossReplicas:
    async def test_failures_add_up_across_replicas(self, replicas: Replicas) -> None:
        """Wrong passwords sent to two replicas add up to one limit: the request locks on
        the fifth, whichever replica sees it; a fresh request logs in on either. The counts
        live in Redis when it is configured, else in the shared database."""
        a, b, settings = replicas
        rows_before = await attempt_rows(settings)
        partner = await sandbox_partner(a)
        request_uri = await pushed_request_uri(a, partner)
        form = await login_form(a, partner, request_uri)
        for n, replica in enumerate([a, b, a, b]):
            wrong = await log_in(replica, form, f"nobody{n}", "guess")
            assert wrong.status_code == 401, wrong.text
            form = Form(wrong.text)
        assert (await log_in(a, form, "nobody4", "guess")).status_code == 429
        assert (await log_in(b, form)).status_code == 429
        fresh = await login_form(b, partner, await pushed_request_uri(a, partner))
        assert (await log_in(b, fresh)).status_code == 200
        added = await attempt_rows(settings) - rows_before
        assert added == 0 if settings.redis_url else added > 0


async def attempt_rows(settings: Settings) -> int:
    db = Database(settings.database_url)
    try:
        async with db.read() as conn:
            count = await conn.scalar(
                sa.select(sa.func.count()).select_from(authorization_attempts)
            )
    finally:
        await db.dispose()
    return int(count or 0)
