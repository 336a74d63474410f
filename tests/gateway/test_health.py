"""Probes and the portal front page."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from tests.conftest import REDIS_URL, make_settings, service_missing
from tests.factories import services_of


class TestProbes:
    async def test_liveness_and_readiness(self, client: httpx.AsyncClient) -> None:
        """/healthz answers; /readyz checks the database and the feed, and reports the core."""
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        body = ready.json()
        assert body["checks"] == {
            "database": "ok",
            "revocation_feed": "ok",
            "signing_keys": "ok",
        }
        assert body["core"] == {
            "name": "sandbox",
            "status": "up",
            "breaker": "closed",
            "detail": "in-process sandbox bank",
        }

    async def test_readiness_includes_redis(self, tmp_path: Path) -> None:
        """With OBGW_REDIS_URL set, readiness also pings Redis."""
        import redis.asyncio as redis

        probe = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        try:
            await probe.ping()
        except Exception as exc:
            service_missing(f"Redis at {REDIS_URL}", exc)
        finally:
            await probe.aclose()
        settings = make_settings(tmp_path, redis_url=REDIS_URL)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=settings.issuer) as http:
                ready = await http.get("/readyz")
        assert ready.json()["checks"]["redis"] == "ok"

    async def test_unready_database(self, tmp_path: Path) -> None:
        """An unreachable database makes /readyz answer 503."""
        settings = make_settings(tmp_path, "postgresql+asyncpg://nobody@127.0.0.1:1/none")
        app = create_app(settings)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.issuer) as http:
            ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == "failing"
        assert "127.0.0.1:1" not in ready.text

    async def test_stale_signing_keys_make_a_pod_unready(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """A pod whose signing-key feed has not read the keys for seconds is unready (it
        could still trust a revoked key); reading them again makes it ready."""
        keys = services_of(app).keys
        assert (await client.get("/readyz")).status_code == 200
        keys.last_polled = asyncio.get_running_loop().time() - 60
        stale = await client.get("/readyz")
        assert stale.status_code == 503
        assert stale.json()["checks"]["signing_keys"] == "failing"
        await keys.poll()
        assert (await client.get("/readyz")).status_code == 200


class TestPortal:
    @pytest.mark.parametrize("backend", ["sqlite"])
    async def test_front_page(self, client: httpx.AsyncClient) -> None:
        """The portal front page is bilingual HTML with the sandbox quickstart."""
        page = await client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "/sandbox/signup" in page.text
        assert "开放银行" in page.text
