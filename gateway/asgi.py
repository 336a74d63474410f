"""ASGI entry point for servers: `uvicorn gateway.asgi:app --no-proxy-headers` (settings from
the environment; the gateway reads forwarded headers itself, from `OBGW_TRUSTED_PROXIES` only)."""

from __future__ import annotations

from gateway.app import create_app

app = create_app()
