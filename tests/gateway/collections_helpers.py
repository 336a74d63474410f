"""Builders for the collections tests: a collecting partner, bills, events, the clock."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from gateway.clock import SandboxClock, business_day, utcnow
from gateway.storage.tables import bills, events
from tests.factories import Partner, partner_token, sandbox_partner, services_of

BILLS = "/v1/collections/bills"


@dataclass
class Collector:
    """A sandbox partner with a `collections` token."""

    partner: Partner
    headers: dict[str, str]

    @property
    def partner_id(self) -> str:
        return self.partner.partner_id

    def keyed(self, key: str | None = None) -> dict[str, str]:
        return {**self.headers, "Idempotency-Key": key or secrets.token_hex(8)}


async def collector(client: httpx.AsyncClient, name: str = "阳光小学") -> Collector:
    partner = await sandbox_partner(client, name)
    token = await partner_token(client, partner, "collections")
    return Collector(partner, {"Authorization": f"Bearer {token}"})


def due_in(days: int) -> str:
    return (business_day(utcnow()) + timedelta(days=days)).isoformat()


def bill_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "payer_reference": "S2026-0417",
        "payer_name": "张小明",
        "amount": {"value": "3800.00", "currency": "CNY"},
        "due_date": due_in(30),
        "category": "tuition",
        "description": "2026 秋季学期学费",
    }
    body.update(overrides)
    return body


async def issue(client: httpx.AsyncClient, who: Collector, **overrides: Any) -> dict[str, Any]:
    response = await client.post(BILLS, json=bill_body(**overrides), headers=who.keyed())
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def pay_at_bank(
    client: httpx.AsyncClient, who: Collector, bill_id: str, **body: str
) -> httpx.Response:
    return await client.post(
        f"/sandbox/bills/{bill_id}/pay", json=body or None, auth=who.partner.basic
    )


async def bill_count(app: FastAPI) -> int:
    async with services_of(app).db.read() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(bills))).scalar_one())


async def events_of(app: FastAPI, partner_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The partner's outbox events, oldest first: (type, data)."""
    async with services_of(app).db.read() as conn:
        rows = await conn.execute(
            sa.select(events.c.type, events.c.data)
            .where(events.c.partner_id == partner_id)
            .order_by(events.c.seq)
        )
        return [(row.type, dict(row.data)) for row in rows]


async def advance(app: FastAPI, partner_id: str, by: timedelta) -> None:
    """Move the partner's virtual clock forward (the sandbox bank's clock)."""
    clock = services_of(app).clock
    assert isinstance(clock, SandboxClock)
    await clock.bank.advance_clock(partner_id, by)


async def partner_today(app: FastAPI, partner_id: str) -> date:
    return business_day(await services_of(app).clock.now(partner_id))
