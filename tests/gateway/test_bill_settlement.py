"""How bills end: paid at a bank channel (magic values), held and settled for payments,
expired and settled by `process_due` on the partner's clock, with their events."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from adapters.contract import Money
from gateway.clock import utcnow
from gateway.errors import (
    BillNotOpenError,
    BillPaymentPendingError,
    NotFoundError,
    ValidationFailedError,
)
from tests.factories import services_of
from tests.gateway.collections_helpers import (
    BILLS,
    collector,
    due_in,
    events_of,
    issue,
    pay_at_bank,
)


def _amount(value: str) -> dict[str, str]:
    return {"value": value, "currency": "CNY"}


class TestBankChannel:
    async def test_pays_now(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        """An ordinary amount is Paid at once through the bank channel, at the partner's
        time, with one bill.paid event."""
        who = await collector(client)
        bill = await issue(client, who, amount=_amount("1250.00"))
        paid = await pay_at_bank(client, who, bill["bill_id"], channel="counter")
        assert paid.status_code == 200, paid.text
        assert paid.json()["status"] == "Paid"
        assert paid.json()["paid_via"] == "counter"
        read = (await client.get(f"{BILLS}/{bill['bill_id']}", headers=who.headers)).json()
        assert read["status"] == "Paid"
        assert read["channel"] == "bank_channel"
        assert read["payment_id"] is None
        assert read["settled_at"] == paid.json()["settled_at"]
        paid_events = [d for t, d in await events_of(app, who.partner_id) if t == "bill.paid"]
        assert paid_events == [
            {
                "bill_id": bill["bill_id"],
                "status": "Paid",
                "payment_id": None,
                "channel": "bank_channel",
                "amount": _amount("1250.00"),
                "settled_at": read["settled_at"],
            }
        ]

    async def test_default_channel_and_no_body(self, client: httpx.AsyncClient) -> None:
        """Without a body the payer pays in mobile banking."""
        who = await collector(client)
        bill = await issue(client, who)
        paid = await pay_at_bank(client, who, bill["bill_id"])
        assert paid.status_code == 200, paid.text
        assert paid.json()["paid_via"] == "mobile_banking"

    @pytest.mark.parametrize(
        ("cents", "status", "code"),
        [
            ("51", 422, "insufficient-funds"),
            ("52", 422, "account-frozen"),
            ("53", 504, "core-timeout"),
            ("54", 503, "core-unavailable"),
        ],
    )
    async def test_magic_failures_change_nothing(
        self, app: FastAPI, client: httpx.AsyncClient, cents: str, status: int, code: str
    ) -> None:
        """`.51`-`.54` refuse or fail the payment; the bill stays Open and no event is written."""
        who = await collector(client)
        bill = await issue(client, who, amount=_amount(f"88.{cents}"))
        refused = await pay_at_bank(client, who, bill["bill_id"])
        assert refused.status_code == status, refused.text
        assert refused.json()["code"] == code
        if status == 503:
            assert refused.headers["retry-after"] == "5"
        read = (await client.get(f"{BILLS}/{bill['bill_id']}", headers=who.headers)).json()
        assert read == bill
        assert not [t for t, _ in await events_of(app, who.partner_id) if t.startswith("bill.")]

    async def test_pending_settles_when_the_clock_passes(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """`.55` is accepted (202) with the bill still Open until `settles_at`, one hour on;
        `process_due` at that time makes it Paid at `settles_at`, once."""
        who = await collector(client)
        bill = await issue(client, who, amount=_amount("300.55"))
        pending = await pay_at_bank(client, who, bill["bill_id"])
        assert pending.status_code == 202, pending.text
        settles_at = pending.json()["settles_at"]
        assert pending.json()["status"] == "Open"
        read = (await client.get(f"{BILLS}/{bill['bill_id']}", headers=who.headers)).json()
        assert read["status"] == "Open"
        assert read["settles_at"] == settles_at
        again = await pay_at_bank(client, who, bill["bill_id"])
        assert again.status_code == 409
        assert again.json()["code"] == "bill-payment-pending"
        bills = services_of(app).bills
        early = await bills.process_due(who.partner_id, utcnow() + timedelta(minutes=30))
        assert early["bills_settled"] == 0
        later = utcnow() + timedelta(hours=1, minutes=1)
        assert (await bills.process_due(who.partner_id, later))["bills_settled"] == 1
        assert (await bills.process_due(who.partner_id, later))["bills_settled"] == 0
        settled = await bills.get(who.partner_id, bill["bill_id"])
        assert settled.status.value == "Paid"
        assert settled.settled_at is not None
        assert settled.settled_at.isoformat().replace("+00:00", "Z") == settles_at
        paid = [t for t, _ in await events_of(app, who.partner_id) if t == "bill.paid"]
        assert paid == ["bill.paid"]

    async def test_pending_settles_on_read_after_the_clock_advances(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """Once the partner's own clock passes `settles_at`, reading the bill shows it Paid."""
        from tests.gateway.collections_helpers import advance

        who = await collector(client)
        bill = await issue(client, who, amount=_amount("300.55"))
        assert (await pay_at_bank(client, who, bill["bill_id"])).status_code == 202
        await advance(app, who.partner_id, timedelta(hours=2))
        read = (await client.get(f"{BILLS}/{bill['bill_id']}", headers=who.headers)).json()
        assert read["status"] == "Paid"

    async def test_not_open_is_refused(self, client: httpx.AsyncClient) -> None:
        """Paying a Paid or Cancelled bill is 409 bill-not-open; another partner's is 404."""
        who, other = await collector(client), await collector(client, "仁和医院")
        paid = await issue(client, who)
        assert (await pay_at_bank(client, who, paid["bill_id"])).status_code == 200
        cancelled = await issue(client, who)
        cancel = await client.post(f"{BILLS}/{cancelled['bill_id']}/cancel", headers=who.headers)
        assert cancel.status_code == 200
        for bill in (paid, cancelled):
            refused = await pay_at_bank(client, who, bill["bill_id"])
            assert refused.status_code == 409
            assert refused.json()["code"] == "bill-not-open"
        foreign = await issue(client, other)
        stranger = await pay_at_bank(client, who, foreign["bill_id"])
        assert stranger.status_code == 404
        assert foreign["pay_code"] not in stranger.text

    async def test_unknown_channel_is_refused(self, client: httpx.AsyncClient) -> None:
        """A channel other than counter, mobile_banking or atm is 422 naming it."""
        who = await collector(client)
        bill = await issue(client, who)
        refused = await pay_at_bank(client, who, bill["bill_id"], channel="post_office")
        assert refused.status_code == 422
        assert [e["path"] for e in refused.json()["errors"]] == ["channel"]
        assert (await pay_at_bank(client, who, bill["bill_id"], channel="atm")).status_code == 200


class TestExpiry:
    async def test_overdue_bills_expire_with_events(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """`process_due` expires Open bills whose due date has passed (one bill.expired
        each), leaves bills still due and held bills alone, and does nothing twice."""
        who = await collector(client)
        overdue = await issue(client, who, due_date=due_in(0))
        still_due = await issue(client, who, due_date=due_in(5))
        held = await issue(client, who, due_date=due_in(0), amount=_amount("10.55"))
        assert (await pay_at_bank(client, who, held["bill_id"])).status_code == 202
        bills = services_of(app).bills
        # Two days on (the bank payment has settled by then): only `overdue` expires.
        later = utcnow() + timedelta(days=2)
        done = await bills.process_due(who.partner_id, later)
        assert done == {"bills_expired": 1, "bills_settled": 1}
        assert await bills.process_due(who.partner_id, later) == {
            "bills_expired": 0,
            "bills_settled": 0,
        }
        statuses = {
            b["bill_id"]: b["status"]
            for b in (await client.get(BILLS, headers=who.headers)).json()["data"]
        }
        assert statuses == {
            overdue["bill_id"]: "Expired",
            still_due["bill_id"]: "Open",
            held["bill_id"]: "Paid",
        }
        expired = [d for t, d in await events_of(app, who.partner_id) if t == "bill.expired"]
        assert expired == [{"bill_id": overdue["bill_id"], "status": "Expired"}]

    async def test_expired_bill_cannot_be_paid_or_cancelled(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """An Expired bill is 409 bill-not-open for the bank channel and for cancelling."""
        who = await collector(client)
        bill = await issue(client, who, due_date=due_in(0))
        await services_of(app).bills.process_due(who.partner_id, utcnow() + timedelta(days=1))
        assert (await pay_at_bank(client, who, bill["bill_id"])).json()["code"] == "bill-not-open"
        cancel = await client.post(f"{BILLS}/{bill['bill_id']}/cancel", headers=who.headers)
        assert cancel.status_code == 409
        assert cancel.json()["code"] == "bill-not-open"

    async def test_every_partner_at_once(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        """The housekeeper's run (`partner_id=None`) expires every partner's overdue bills,
        and replicas running it at once expire each bill once."""
        first, second = await collector(client), await collector(client, "仁和医院")
        for who in (first, second):
            await issue(client, who, due_date=due_in(0))
        bills = services_of(app).bills
        later = utcnow() + timedelta(days=1)
        runs = await asyncio.gather(*(bills.process_due(None, later) for _ in range(3)))
        assert sum(r["bills_expired"] for r in runs) == 2
        for who in (first, second):
            expired = [t for t, _ in await events_of(app, who.partner_id) if t == "bill.expired"]
            assert expired == ["bill.expired"]


class TestPaymentHold:
    async def test_payable_checks_owner_status_and_amount(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """`payable` returns an Open bill of exactly the amount; another amount is a 422 on
        `amount`, another partner's bill a 404."""
        who, other = await collector(client), await collector(client, "仁和医院")
        bill = await issue(client, who, amount=_amount("99.90"))
        service = services_of(app).bills
        async with services_of(app).db.read() as conn:
            found = await service.payable(
                conn, who.partner_id, bill["bill_id"], Money.of_cents(9990)
            )
            assert found.id == bill["bill_id"]
            with pytest.raises(ValidationFailedError) as mismatch:
                await service.payable(conn, who.partner_id, bill["bill_id"], Money.of_cents(9991))
            assert [e.path for e in mismatch.value.errors] == ["amount"]
            with pytest.raises(NotFoundError):
                await service.payable(conn, other.partner_id, bill["bill_id"], Money.of_cents(9990))

    async def test_one_of_two_concurrent_payments_holds(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """Two payments reserving one bill at once: exactly one holds it."""
        who = await collector(client)
        bill = await issue(client, who)
        services = services_of(app)

        async def reserve(payment_id: str) -> str:
            try:
                async with services.db.transaction() as uow:
                    await services.bills.reserve(uow, who.partner_id, bill["bill_id"], payment_id)
            except BillPaymentPendingError:
                return "refused"
            return payment_id

        outcomes = await asyncio.gather(reserve("pay_first"), reserve("pay_second"))
        winners = [o for o in outcomes if o != "refused"]
        assert len(winners) == 1
        held = await services.bills.get(who.partner_id, bill["bill_id"])
        assert held.payment_id == winners[0]

    async def test_held_bill_refuses_others_until_released(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """A held bill is neither payable, cancellable nor expired; released, it is payable
        again; settled by its payment, it is Paid with that payment and one event."""
        who = await collector(client)
        bill = await issue(client, who, due_date=due_in(0))
        services = services_of(app)
        bills, bill_id = services.bills, bill["bill_id"]
        async with services.db.transaction() as uow:
            await bills.reserve(uow, who.partner_id, bill_id, "pay_a")
            await bills.reserve(uow, who.partner_id, bill_id, "pay_a")  # again: harmless
        assert (await pay_at_bank(client, who, bill_id)).json()["code"] == "bill-payment-pending"
        cancel = await client.post(f"{BILLS}/{bill_id}/cancel", headers=who.headers)
        assert cancel.json()["code"] == "bill-payment-pending"
        later = utcnow() + timedelta(days=3)
        assert (await bills.process_due(who.partner_id, later))["bills_expired"] == 0
        async with services.db.transaction() as uow:
            assert not await bills.release(uow, who.partner_id, bill_id, "pay_other")
            assert await bills.release(uow, who.partner_id, bill_id, "pay_a")
        async with services.db.transaction() as uow:
            await bills.reserve(uow, who.partner_id, bill_id, "pay_b")
        at = utcnow()
        async with services.db.transaction() as uow:
            paid = await bills.settle(
                uow, who.partner_id, bill_id, channel="customer_payment", payment_id="pay_b", at=at
            )
        assert paid.status.value == "Paid"
        assert paid.payment_id == "pay_b"
        assert paid.settled_at == at
        async with services.db.transaction() as uow:  # reported twice: unchanged
            again = await bills.settle(
                uow, who.partner_id, bill_id, channel="customer_payment", payment_id="pay_b", at=at
            )
        assert again == paid
        with pytest.raises(BillNotOpenError):
            async with services.db.transaction() as uow:
                await bills.reserve(uow, who.partner_id, bill_id, "pay_c")
        events = [d for t, d in await events_of(app, who.partner_id) if t == "bill.paid"]
        assert len(events) == 1
        assert events[0]["payment_id"] == "pay_b"
        assert events[0]["channel"] == "customer_payment"
