"""Idempotency keys (DESIGN §4): replay, reuse, in flight, 24 hours, and the optional
products that honour a key when one is sent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from gateway.storage.tables import consents, idempotency_keys
from tests.factories import partner_token, sandbox_partner, services_of

CONSENT = {"type": "account_access", "permissions": ["ReadBalances"]}


async def create(
    client: httpx.AsyncClient, token: str, key: str | None, body: dict[str, object]
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post("/v1/consents", json=body, headers=headers)


class TestIdempotencyKeys:
    async def test_an_optional_key_is_honoured(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """A consent created with a key is created once; the retry replays it; without a key
        each request creates one."""
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "consents")
        key = uuid.uuid4().hex
        first = await create(client, token, key, CONSENT)
        again = await create(client, token, key, CONSENT)
        assert first.status_code == again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        assert again.headers["location"] == first.headers["location"]
        other = await create(client, token, key, {**CONSENT, "permissions": ["ReadAccountsBasic"]})
        assert other.status_code == 422
        assert other.json()["code"] == "idempotency-key-reused"
        plain = [await create(client, token, None, CONSENT) for _ in range(2)]
        assert plain[0].json()["consent_id"] != plain[1].json()["consent_id"]
        async with services_of(app).db.read() as conn:
            mine = await conn.execute(
                sa.select(sa.func.count())
                .select_from(consents)
                .where(consents.c.partner_id == partner.partner_id)
            )
            assert mine.scalar_one() == 3

    async def test_keys_are_per_client(self, client: httpx.AsyncClient) -> None:
        """Two clients using the same key do not see each other's answers."""
        first, second = await sandbox_partner(client), await sandbox_partner(client)
        key = uuid.uuid4().hex
        a = await create(client, await partner_token(client, first, "consents"), key, CONSENT)
        b = await create(client, await partner_token(client, second, "consents"), key, CONSENT)
        assert a.status_code == b.status_code == 201
        assert "idempotent-replayed" not in b.headers
        assert a.json()["consent_id"] != b.json()["consent_id"]

    async def test_in_flight_then_abandoned_then_expired(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """A key held by a request in flight is 409 with Retry-After; a claim whose holder
        died is taken over after its lock; a key older than 24 hours starts afresh."""
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "consents")
        key = uuid.uuid4().hex
        first = await create(client, token, key, CONSENT)
        services = services_of(app)
        where = (idempotency_keys.c.client_id == partner.client_id, idempotency_keys.c.key == key)
        now = datetime.now(UTC)
        async with services.db.transaction() as uow:
            await uow.conn.execute(
                idempotency_keys.update()
                .where(*where)
                .values(state="in_flight", locked_until=now + timedelta(seconds=30))
            )
        busy = await create(client, token, key, CONSENT)
        assert busy.status_code == 409
        assert busy.json()["code"] == "idempotency-key-in-flight"
        assert busy.headers["retry-after"] == "1"
        async with services.db.transaction() as uow:
            await uow.conn.execute(
                idempotency_keys.update()
                .where(*where)
                .values(locked_until=now - timedelta(seconds=1))
            )
        taken_over = await create(client, token, key, CONSENT)
        assert taken_over.status_code == 201
        assert taken_over.json()["consent_id"] != first.json()["consent_id"]
        async with services.db.transaction() as uow:
            await uow.conn.execute(
                idempotency_keys.update()
                .where(*where)
                .values(expires_at=now - timedelta(seconds=1))
            )
        fresh = await create(client, token, key, {**CONSENT, "permissions": ["ReadAccountsBasic"]})
        assert fresh.status_code == 201
        assert "idempotent-replayed" not in fresh.headers
        assert await services.idempotency.purge_expired() == 0
