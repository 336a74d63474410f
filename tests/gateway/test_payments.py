"""Payments end to end: real OAuth tokens, the sandbox bank's magic values, idempotency,
consent use, risk limits and events."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from gateway.app import create_app
from gateway.settings import Settings
from gateway.storage.tables import events, payments, sandbox_transfers
from policies.catalog import DEFAULT_CATALOG
from tests.factories import (
    PAYMENT,
    PaymentGrant,
    customer_grant,
    customer_headers,
    partner_token,
    payment_grant,
    sandbox_partner,
    services_of,
)


def key() -> str:
    return uuid.uuid4().hex


async def pay(
    client: httpx.AsyncClient,
    grant: PaymentGrant,
    idempotency_key: str | None = None,
    **overrides: Any,
) -> httpx.Response:
    headers = customer_headers(client, grant.grant, "POST", "/v1/payments")
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return await client.post("/v1/payments", json=grant.body(**overrides), headers=headers)


async def balance(client: httpx.AsyncClient, partner: Any, account_id: str) -> Decimal:
    """The available balance through an account-access consent of the same customer."""
    reader = await customer_grant(client, partner)
    path = f"/v1/accounts/{account_id}/balances"
    read = await client.get(path, headers=customer_headers(client, reader, "GET", path))
    assert read.status_code == 200, read.text
    available = next(b for b in read.json()["data"] if b["type"] == "InterimAvailable")
    return Decimal(available["amount"]["value"])


async def count(app: FastAPI, table: sa.Table, *where: Any) -> int:
    async with services_of(app).db.read() as conn:
        return int(
            (
                await conn.execute(sa.select(sa.func.count()).select_from(table).where(*where))
            ).scalar_one()
        )


class TestPayment:
    async def test_pays_once_and_moves_the_balance(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """A payment under its consent completes, debits the account once, uses the consent
        up and writes one event."""
        partner = await sandbox_partner(client)
        grant = await payment_grant(client, partner, "120.00")
        before = await balance(client, partner, grant.debtor_account_id)
        paid = await pay(client, grant, key())
        assert paid.status_code == 201, paid.text
        body = paid.json()
        assert body["status"] == "Completed"
        assert body["amount"] == {"value": "120.00", "currency": "CNY"}
        assert paid.headers["location"] == f"/v1/payments/{body['payment_id']}"
        assert await balance(client, partner, grant.debtor_account_id) == before - Decimal("120.00")
        path = f"/v1/payments/{body['payment_id']}"
        read = await client.get(path, headers=customer_headers(client, grant.grant, "GET", path))
        assert read.status_code == 200, read.text
        assert read.json() == body
        again = await pay(client, grant, key())
        assert again.status_code == 401
        assert again.json()["code"] == "consent-consumed"
        assert (
            await count(
                app,
                events,
                events.c.partner_id == partner.partner_id,
                events.c.type == "payment.status_changed",
            )
            == 1
        )

    async def test_replay_and_reuse(self, client: httpx.AsyncClient) -> None:
        """The same key and body replay the answer; the same key with another body is 422;
        no key is 400."""
        partner = await sandbox_partner(client)
        grant = await payment_grant(client, partner, "15.00")
        missing = await pay(client, grant)
        assert missing.status_code == 400
        assert missing.json()["code"] == "idempotency-key-required"
        k = key()
        first = await pay(client, grant, k)
        assert first.status_code == 201, first.text
        replay = await pay(client, grant, k)
        assert replay.status_code == 201
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.json() == first.json()
        other = await pay(client, grant, k, reference="something else")
        assert other.status_code == 422
        assert other.json()["code"] == "idempotency-key-reused"

    async def test_terms_must_match_the_consent(self, client: httpx.AsyncClient) -> None:
        """Another amount, creditor or reference, or an account not chosen, pays nothing."""
        partner = await sandbox_partner(client)
        grant = await payment_grant(client, partner, "30.00")
        wrong_amount = await pay(client, grant, key(), amount={"value": "31.00", "currency": "CNY"})
        assert wrong_amount.status_code == 422
        assert [e["path"] for e in wrong_amount.json()["errors"]] == ["amount.value"]
        wrong_creditor = await pay(
            client,
            grant,
            key(),
            creditor={"account_number": "6222020200112233446", "name": "市医院"},
        )
        assert wrong_creditor.status_code == 422
        other_account = await pay(client, grant, key(), debtor_account_id="acc_" + "a" * 24)
        assert other_account.status_code == 403
        assert other_account.json()["code"] == "consent-insufficient"
        control = await pay(client, grant, key())
        assert control.status_code == 201, control.text


class TestMagicValues:
    @pytest.mark.parametrize(
        ("value", "status", "code"),
        [("20.51", 422, "insufficient-funds"), ("20.52", 422, "account-frozen")],
    )
    async def test_refusals_keep_the_consent(
        self, client: httpx.AsyncClient, value: str, status: int, code: str
    ) -> None:
        """A refusal is the documented problem with the rejected payment's id; nothing moves
        and the consent stays usable."""
        partner = await sandbox_partner(client)
        grant = await payment_grant(client, partner, value)
        before = await balance(client, partner, grant.debtor_account_id)
        refused = await pay(client, grant, key())
        assert refused.status_code == status, refused.text
        assert refused.json()["code"] == code
        payment_id = refused.json()["payment_id"]
        path = f"/v1/payments/{payment_id}"
        read = await client.get(path, headers=customer_headers(client, grant.grant, "GET", path))
        assert read.json()["status"] == "Rejected"
        assert read.json()["reason"] == code
        assert await balance(client, partner, grant.debtor_account_id) == before

    async def test_timeout_is_looked_up_before_a_retry(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """.53: the core moves the money but its answer is lost (504); the retry with the same
        key finds the payment and answers it; the account is debited once."""
        partner = await sandbox_partner(client)
        grant = await payment_grant(client, partner, "20.53")
        before = await balance(client, partner, grant.debtor_account_id)
        k = key()
        lost = await pay(client, grant, k)
        assert lost.status_code == 504, lost.text
        assert lost.json()["code"] == "core-timeout"
        retried = await pay(client, grant, k)
        assert retried.status_code == 201, retried.text
        assert retried.json()["status"] == "Completed"
        assert await balance(client, partner, grant.debtor_account_id) == before - Decimal("20.53")
        assert (
            await count(
                app, sandbox_transfers, sandbox_transfers.c.partner_id == partner.partner_id
            )
            == 1
        )

    async def test_unavailable_moves_nothing(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        """.54: 503 with Retry-After; nothing moves; the reconciler gives the consent back."""
        partner = await sandbox_partner(client)
        grant = await payment_grant(client, partner, "20.54")
        down = await pay(client, grant, key())
        assert down.status_code == 503
        assert down.json()["code"] == "core-unavailable"
        assert "retry-after" in down.headers
        assert (
            await count(
                app, sandbox_transfers, sandbox_transfers.c.partner_id == partner.partner_id
            )
            == 0
        )
        services = services_of(app)
        services.core.breaker.succeeded()
        async with services.db.transaction() as uow:
            await uow.conn.execute(
                payments.update()
                .where(payments.c.partner_id == partner.partner_id)
                .values(created_at=datetime.now(UTC) - timedelta(minutes=5))
            )
        assert await services.payments.reconcile(partner.partner_id) == 1
        token = await partner_token(client, partner, "consents")
        consent = await client.get(
            f"/v1/consents/{grant.grant.consent_id}", headers={"Authorization": f"Bearer {token}"}
        )
        assert consent.json()["status"] == "Authorised"
        async with services.db.read() as conn:
            row = (
                await conn.execute(
                    payments.select().where(payments.c.partner_id == partner.partner_id)
                )
            ).one()
        assert (row.status, row.reason) == ("Rejected", "payment-not-executed")

    async def test_pending_settles_after_a_virtual_hour(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """.55: Pending at once, Completed once the partner's clock has passed an hour."""
        partner = await sandbox_partner(client)
        grant = await payment_grant(client, partner, "20.55")
        pending = await pay(client, grant, key())
        assert pending.status_code == 201, pending.text
        assert pending.json()["status"] == "Pending"
        assert pending.json()["settled_at"] is None
        services = services_of(app)
        await services.payments.reconcile(partner.partner_id)
        path = f"/v1/payments/{pending.json()['payment_id']}"
        still = await client.get(path, headers=customer_headers(client, grant.grant, "GET", path))
        assert still.json()["status"] == "Pending"
        too_soon = await client.post(
            "/sandbox/clock/advance", json={"hours": 0}, auth=partner.basic
        )
        assert too_soon.status_code == 422
        advanced = await client.post(
            "/sandbox/clock/advance", json={"hours": 1}, auth=partner.basic
        )
        assert advanced.status_code == 200, advanced.text
        assert advanced.json()["settled_payments"] == 1
        done = await client.get(path, headers=customer_headers(client, grant.grant, "GET", path))
        assert done.json()["status"] == "Completed"
        assert await count(app, events, events.c.partner_id == partner.partner_id) == 2


class TestConcurrency:
    async def test_fifty_requests_one_key_one_payment(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """50 concurrent requests with one key: one payment, one debit, one event; the other
        answers are replays or 409."""
        partner = await sandbox_partner(client)
        grant = await payment_grant(client, partner, "10.00")
        k = key()
        answers = await asyncio.gather(*(pay(client, grant, k) for _ in range(50)))
        statuses = [a.status_code for a in answers]
        assert set(statuses) <= {201, 409}, statuses
        created = [a for a in answers if a.status_code == 201]
        assert len({a.json()["payment_id"] for a in created}) == 1
        assert sum(1 for a in created if "idempotent-replayed" not in a.headers) == 1
        assert await count(app, payments, payments.c.partner_id == partner.partner_id) == 1
        assert (
            await count(
                app, sandbox_transfers, sandbox_transfers.c.partner_id == partner.partner_id
            )
            == 1
        )
        assert await count(app, events, events.c.partner_id == partner.partner_id) == 1


class TestSandboxWorld:
    async def test_reset_regenerates_accounts(self, client: httpx.AsyncClient) -> None:
        """After a reset the customer's accounts are new and earlier consents find nothing;
        the clock keeps its time."""
        partner = await sandbox_partner(client)
        grant = await customer_grant(client, partner)
        path = "/v1/accounts"
        before = await client.get(path, headers=customer_headers(client, grant, "GET", path))
        assert before.status_code == 200
        moved = await client.post("/sandbox/clock/advance", json={"days": 2}, auth=partner.basic)
        reset = await client.post("/sandbox/reset", auth=partner.basic)
        assert reset.status_code == 200, reset.text
        assert reset.json()["seed"] == 1
        assert {c["username"] for c in reset.json()["customers"]} == {
            "zhang.wei",
            "li.na",
            "wang.fang",
        }
        after = await client.get(path, headers=customer_headers(client, grant, "GET", path))
        assert after.json()["data"] == []
        fresh = await customer_grant(client, partner)
        again = await client.get(path, headers=customer_headers(client, fresh, "GET", path))
        assert {a["account_id"] for a in again.json()["data"]}.isdisjoint(
            a["account_id"] for a in before.json()["data"]
        )
        clock = await client.post("/sandbox/clock/advance", json={"hours": 1}, auth=partner.basic)
        assert clock.json()["now"] > moved.json()["now"]

    async def test_worlds_are_separate(self, client: httpx.AsyncClient) -> None:
        """One partner's clock and payments do not touch another partner's world."""
        first, second = await sandbox_partner(client), await sandbox_partner(client)
        grant = await payment_grant(client, first, "50.00")
        paid = await pay(client, grant, key())
        assert paid.status_code == 201
        moved = await client.post("/sandbox/clock/advance", json={"days": 30}, auth=first.basic)
        other = await client.post("/sandbox/clock/advance", json={"hours": 1}, auth=second.basic)
        assert other.json()["now"] < moved.json()["now"]


@pytest.fixture
async def capped(tmp_path: Path, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway whose bronze tier may move 100.00 per consent and 150.00 a day."""
    text = DEFAULT_CATALOG.read_text(encoding="utf-8").replace(
        'bronze: {per_consent: "50000.00", daily: "500000.00"}',
        'bronze: {per_consent: "100.00", daily: "150.00"}',
    )
    policy = tmp_path / "catalog.yaml"
    policy.write_text(text, encoding="utf-8")
    capped_settings = settings.model_copy(update={"policy_file": policy})
    application = create_app(capped_settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=settings.issuer) as http:
            yield http


class TestRiskLimits:
    async def test_per_consent_cap(self, capped: httpx.AsyncClient) -> None:
        """A payment consent above the tier's per-consent cap is refused when asked for."""
        partner = await sandbox_partner(capped)
        token = await partner_token(capped, partner, "consents")
        terms = {**PAYMENT, "amount": {"value": "100.01", "currency": "CNY"}}
        refused = await capped.post(
            "/v1/consents",
            json={"type": "payment", "permissions": ["InitiatePayments"], "payment": terms},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert refused.status_code == 422
        assert refused.json()["code"] == "risk-limit-exceeded"
        assert refused.json()["errors"][0]["path"] == "payment.amount.value"
        control = await payment_grant(capped, partner, "100.00")
        assert (await pay(capped, control, key())).status_code == 201

    async def test_daily_cap(self, capped: httpx.AsyncClient) -> None:
        """Payments of one partner's business day stop at the daily cap; a refusal by the
        bank gives its amount back."""
        partner = await sandbox_partner(capped)
        first = await payment_grant(capped, partner, "100.00")
        refused_by_bank = await payment_grant(capped, partner, "40.51")
        second = await payment_grant(capped, partner, "60.00")
        third = await payment_grant(capped, partner, "50.00")
        assert (await pay(capped, first, key())).status_code == 201
        assert (await pay(capped, refused_by_bank, key())).json()["code"] == "insufficient-funds"
        over = await pay(capped, second, key())
        assert over.status_code == 422
        assert over.json()["code"] == "risk-limit-exceeded"
        assert (await pay(capped, third, key())).status_code == 201
        tomorrow = await capped.post("/sandbox/clock/advance", json={"days": 1}, auth=partner.basic)
        assert tomorrow.status_code == 200
        assert (await pay(capped, second, key())).status_code == 201


class TestBadInput:
    @pytest.mark.parametrize(
        ("change", "path"),
        [
            ({"amount": None}, "amount"),
            ({"amount": {"value": "-1.00", "currency": "CNY"}}, "amount.value"),
            ({"amount": {"value": "0.00", "currency": "CNY"}}, "amount.value"),
            ({"amount": {"value": "1.005", "currency": "CNY"}}, "amount.value"),
            ({"amount": {"value": 12.5, "currency": "CNY"}}, "amount.value"),
            ({"amount": {"value": "12.00", "currency": "USD"}}, "amount.currency"),
            ({"creditor": {"account_number": "12", "name": "x"}}, "creditor.account_number"),
            ({"reference": ""}, "reference"),
            ({"reference": 7}, "reference"),
            ({"consent_id": "nope"}, "consent_id"),
            ({"debtor_account_id": None}, "debtor_account_id"),
            ({"bill_id": "bill_UPPER"}, "bill_id"),
            ({"surprise": True}, "surprise"),
        ],
    )
    async def test_each_field_is_named_and_nothing_moves(
        self, client: httpx.AsyncClient, app: FastAPI, change: dict[str, Any], path: str
    ) -> None:
        """A malformed payment is a 400/422 naming the field; nothing is written, the key is
        free again and the consent still pays."""
        partner = await sandbox_partner(client)
        grant = await payment_grant(client, partner, "12.00")
        body = grant.body()
        for name, value in change.items():
            if value is None:
                body.pop(name)
            else:
                body[name] = value
        headers = customer_headers(client, grant.grant, "POST", "/v1/payments")
        k = key()
        bad = await client.post(
            "/v1/payments", json=body, headers={**headers, "Idempotency-Key": k}
        )
        assert bad.status_code in (400, 422), bad.text
        assert path in [e["path"] for e in bad.json()["errors"]], bad.json()
        assert await count(app, payments, payments.c.partner_id == partner.partner_id) == 0
        good = await pay(client, grant, k)
        assert good.status_code == 201, good.text

    async def test_bad_idempotency_key(self, client: httpx.AsyncClient) -> None:
        """A key outside 1-64 of [A-Za-z0-9_-] is a 400 naming the header."""
        partner = await sandbox_partner(client)
        grant = await payment_grant(client, partner, "12.00")
        for bad_key in ("has space", "x" * 65, "a.b", "k/1"):
            refused = await pay(client, grant, bad_key)
            assert refused.status_code == 400, bad_key
            assert refused.json()["errors"][0]["path"] == "headers.Idempotency-Key"
