"""Shared fixtures: settings per storage backend, the ASGI app, a live server."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from gateway.app import create_app
from gateway.settings import Settings
from gateway.storage.database import Database
from gateway.telemetry.logging import flush as flush_logs

PG_ADMIN_URL = os.environ.get("OBGW_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("OBGW_TEST_REDIS", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("OBGW_TEST_REQUIRE_SERVICES") == "1"
# The PostgreSQL tests share one database, and with it the signing keys sealed under the
# gateway secret: like the replicas of one deployment, they share one secret too.
SHARED_SECRET = secrets.token_hex(32)


def share_secret(data_dir: Path) -> None:
    """Give `data_dir` the secret every PostgreSQL test uses (`<data dir>/secret.key`)."""
    path = data_dir / "secret.key"
    if path.exists():
        return
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(SHARED_SECRET)


def service_missing(what: str, why: object) -> None:
    """Skip (laptop) or fail (CI, OBGW_TEST_REQUIRE_SERVICES=1) when a server is absent."""
    message = f"{what} is not reachable ({why}); start it or unset OBGW_TEST_REQUIRE_SERVICES"
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _flush_logs() -> Iterator[None]:
    """Each test's log lines land in its own captured output."""
    yield
    flush_logs()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated, dropped afterwards."""
    import asyncpg

    name = f"obgw_test_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        service_missing("PostgreSQL at " + PG_ADMIN_URL, exc)
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{base}/{name}"

    async def migrate() -> None:
        db = Database(url)
        await db.upgrade()
        await db.dispose()

    asyncio.run(migrate())
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The storage backend a test runs on; tests using it run on both."""
    return str(request.param)


def make_settings(tmp_path: Path, database_url: str = "", **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "issuer": "http://127.0.0.1:8000",
        "log_json": True,
        "log_level": "INFO",
    }
    if database_url:
        values["database_url"] = database_url
        share_secret(tmp_path / "data")
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Settings:
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else ""
    return make_settings(tmp_path, url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=settings.issuer) as http:
        yield http


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """The gateway served by uvicorn on a loopback port, in a background thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.issuer
        self.app = create_app(settings)
        port = int(self.url.rsplit(":", 1)[1])
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            proxy_headers=False,  # as `obgw serve`: the gateway reads forwarded headers itself
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the live server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
