"""ASGI entry point for servers: `uvicorn gateway.asgi:app` (settings from the environment)."""

from __future__ import annotations

from gateway.app import create_app

app = create_app()
