"""Bills through the ASGI app: issuing, reading, listing, cancelling, validation, replays."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from adapters.contract import Money
from gateway.collections.models import is_valid_pay_code
from tests.gateway.collections_helpers import (
    BILLS,
    bill_body,
    bill_count,
    collector,
    due_in,
    events_of,
    issue,
)


class TestIssueBill:
    async def test_created_open_with_pay_code(self, client: httpx.AsyncClient) -> None:
        """A new bill is Open, carries every field it was issued with, a Luhn-checked
        twelve-digit pay code and a Location, and nothing settled yet."""
        who = await collector(client)
        body = bill_body()
        response = await client.post(BILLS, json=body, headers=who.keyed())
        assert response.status_code == 201, response.text
        bill = response.json()
        assert bill["bill_id"].startswith("bill_")
        assert response.headers["location"] == f"{BILLS}/{bill['bill_id']}"
        assert bill["status"] == "Open"
        assert is_valid_pay_code(bill["pay_code"])
        for field in ("payer_reference", "payer_name", "amount", "due_date", "category"):
            assert bill[field] == body[field], field
        assert bill["description"] == body["description"]
        assert bill["settled_at"] is None
        assert bill["channel"] is None
        assert bill["payment_id"] is None
        assert bill["created_at"].endswith("Z")
        assert bill["status_updated_at"] == bill["created_at"]

    async def test_pay_codes_differ(self, client: httpx.AsyncClient) -> None:
        """Each bill of a partner gets its own pay code."""
        who = await collector(client)
        codes = {(await issue(client, who))["pay_code"] for _ in range(5)}
        assert len(codes) == 5

    async def test_due_today_is_accepted(self, client: httpx.AsyncClient) -> None:
        """A bill may fall due on the partner's current business day, and 366 days on."""
        who = await collector(client)
        assert (await issue(client, who, due_date=due_in(0)))["status"] == "Open"
        assert (await issue(client, who, due_date=due_in(366)))["status"] == "Open"


def _field_paths(response: httpx.Response) -> list[str]:
    return [e["path"] for e in response.json().get("errors", [])]


BAD_INPUT: list[tuple[str, dict[str, Any], str]] = [
    ("missing payer_reference", {"payer_reference": None}, "payer_reference"),
    ("payer_reference with a space", {"payer_reference": "S 2026"}, "payer_reference"),
    ("payer_reference too long", {"payer_reference": "x" * 65}, "payer_reference"),
    ("empty payer_name", {"payer_name": ""}, "payer_name"),
    ("payer_name too long", {"payer_name": "张" * 141}, "payer_name"),
    ("payer_name with a line break", {"payer_name": "张\n小明"}, "payer_name"),
    ("missing amount", {"amount": None}, "amount"),
    ("amount as a number", {"amount": {"value": 3800.0, "currency": "CNY"}}, "amount.value"),
    ("amount a bare string", {"amount": "3800.00"}, "amount"),
    ("negative amount", {"amount": {"value": "-1.00", "currency": "CNY"}}, "amount.value"),
    ("zero amount", {"amount": {"value": "0.00", "currency": "CNY"}}, "amount.value"),
    ("three decimals", {"amount": {"value": "12.345", "currency": "CNY"}}, "amount.value"),
    ("one decimal", {"amount": {"value": "12.3", "currency": "CNY"}}, "amount.value"),
    ("unknown currency", {"amount": {"value": "12.30", "currency": "USD"}}, "amount.currency"),
    ("unknown field in amount", {"amount": {"value": "1.00", "x": 1}}, "amount.x"),
    ("missing due_date", {"due_date": None}, "due_date"),
    ("due_date not a date", {"due_date": "next week"}, "due_date"),
    ("due_date as a number", {"due_date": 20261201}, "due_date"),
    ("due_date with a time", {"due_date": "2026-12-01T00:00:00Z"}, "due_date"),
    ("past due_date", {"due_date": due_in(-1)}, "due_date"),
    ("due_date over 366 days ahead", {"due_date": due_in(367)}, "due_date"),
    ("unknown category", {"category": "parking"}, "category"),
    ("empty description", {"description": ""}, "description"),
    ("description too long", {"description": "x" * 281}, "description"),
    ("description with NUL", {"description": "a\x00b"}, "description"),
    ("unknown field", {"discount": "10%"}, "discount"),
]


class TestBillInput:
    @pytest.mark.parametrize(
        ("overrides", "path"), [(o, p) for _, o, p in BAD_INPUT], ids=[n for n, _, _ in BAD_INPUT]
    )
    async def test_bad_field_is_named_and_nothing_written(
        self, app: FastAPI, client: httpx.AsyncClient, overrides: dict[str, Any], path: str
    ) -> None:
        """Each bad field is refused naming it (422; 400 where an object is not one), and no
        bill is written."""
        who = await collector(client)
        body = {k: v for k, v in bill_body(**overrides).items() if v is not None}
        before = await bill_count(app)
        response = await client.post(BILLS, json=body, headers=who.keyed())
        assert response.status_code in (400, 422), response.text
        assert response.headers["content-type"] == "application/problem+json"
        expected = "validation-failed" if response.status_code == 422 else "invalid-request"
        assert response.json()["code"] == expected
        assert path in _field_paths(response)
        assert await bill_count(app) == before

    async def test_positive_control(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        """The same body without the defect is accepted and written."""
        who = await collector(client)
        before = await bill_count(app)
        await issue(client, who)
        assert await bill_count(app) == before + 1

    async def test_body_not_an_object(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        """A body that is not a JSON object is 400 invalid-request, nothing written."""
        who = await collector(client)
        before = await bill_count(app)
        response = await client.post(BILLS, json=["x"], headers=who.keyed())
        assert response.status_code in (400, 422), response.text
        assert await bill_count(app) == before

    async def test_refusal_frees_the_key(self, client: httpx.AsyncClient) -> None:
        """A refused body does not use its Idempotency-Key up: the corrected body may use it."""
        who = await collector(client)
        headers = who.keyed("fix-and-retry")
        bad = await client.post(BILLS, json=bill_body(due_date=due_in(-3)), headers=headers)
        assert bad.status_code == 422
        good = await client.post(BILLS, json=bill_body(), headers=headers)
        assert good.status_code == 201, good.text


class TestIdempotentIssue:
    async def test_same_key_same_body_replays(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """A retry with the same key and body answers the same bill, marked replayed, and
        writes nothing more."""
        who = await collector(client)
        headers = who.keyed("bill-001")
        first = await client.post(BILLS, json=bill_body(), headers=headers)
        assert first.status_code == 201
        before = await bill_count(app)
        again = await client.post(BILLS, json=bill_body(), headers=headers)
        assert again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        assert again.headers["location"] == first.headers["location"]
        assert await bill_count(app) == before

    async def test_same_key_other_body_is_refused(self, client: httpx.AsyncClient) -> None:
        """The same key with another body is 422 idempotency-key-reused."""
        who = await collector(client)
        headers = who.keyed("bill-002")
        assert (await client.post(BILLS, json=bill_body(), headers=headers)).status_code == 201
        other = bill_body(amount={"value": "3900.00", "currency": "CNY"})
        reused = await client.post(BILLS, json=other, headers=headers)
        assert reused.status_code == 422
        assert reused.json()["code"] == "idempotency-key-reused"

    async def test_key_required(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        """Without an Idempotency-Key a bill is refused (400), and nothing is written."""
        who = await collector(client)
        before = await bill_count(app)
        response = await client.post(BILLS, json=bill_body(), headers=who.headers)
        assert response.status_code == 400
        assert response.json()["code"] == "idempotency-key-required"
        assert await bill_count(app) == before

    async def test_keys_are_per_client(self, client: httpx.AsyncClient) -> None:
        """Another partner using the same key issues its own bill."""
        first, second = await collector(client), await collector(client, "仁和医院")
        a = await client.post(BILLS, json=bill_body(), headers=first.keyed("shared"))
        b = await client.post(BILLS, json=bill_body(), headers=second.keyed("shared"))
        assert a.status_code == b.status_code == 201
        assert "idempotent-replayed" not in b.headers
        assert a.json()["bill_id"] != b.json()["bill_id"]


class TestReadBills:
    async def test_read_own_bill(self, client: httpx.AsyncClient) -> None:
        """A partner reads its bill as it was issued."""
        who = await collector(client)
        bill = await issue(client, who)
        read = await client.get(f"{BILLS}/{bill['bill_id']}", headers=who.headers)
        assert read.status_code == 200
        assert read.json() == bill
        assert read.headers["cache-control"] == "no-store"

    async def test_other_partners_bill_is_not_found(self, client: httpx.AsyncClient) -> None:
        """Another partner's bill is 404 for reading and cancelling, and the body carries
        nothing of it."""
        owner, other = await collector(client), await collector(client, "仁和医院")
        bill = await issue(client, owner, payer_name="王秘密", payer_reference="SECRET-77")
        path = f"{BILLS}/{bill['bill_id']}"
        read = await client.get(path, headers=other.headers)
        cancel = await client.post(f"{path}/cancel", headers=other.keyed())
        for response in (read, cancel):
            assert response.status_code == 404, response.text
            assert response.json()["code"] == "not-found"
            for secret in ("王秘密", "SECRET-77", bill["pay_code"], bill["bill_id"], "3800"):
                assert secret not in response.text
        listed = await client.get(BILLS, headers=other.headers)
        assert bill["bill_id"] not in listed.text
        assert (await client.get(path, headers=owner.headers)).status_code == 200

    async def test_unknown_and_malformed_ids(self, client: httpx.AsyncClient) -> None:
        """An unknown id is 404; a malformed one is 422 naming it."""
        who = await collector(client)
        assert (await client.get(f"{BILLS}/bill_aaaa", headers=who.headers)).status_code == 404
        malformed = await client.get(f"{BILLS}/cns_aaaa", headers=who.headers)
        assert malformed.status_code == 422
        assert "path.bill_id" in _field_paths(malformed)

    async def test_needs_the_collections_scope(self, client: httpx.AsyncClient) -> None:
        """A token without the collections scope is refused (403)."""
        from tests.factories import partner_token, sandbox_partner

        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "products")
        response = await client.get(BILLS, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 403
        assert response.json()["code"] == "insufficient-scope"


class TestListBills:
    async def test_newest_first_in_pages(self, client: httpx.AsyncClient) -> None:
        """Pages walk every bill once, newest first, and the last has no next cursor."""
        who = await collector(client)
        issued = [(await issue(client, who))["bill_id"] for _ in range(5)]
        seen: list[str] = []
        cursor = None
        while True:
            params = {"page_size": "2", **({"cursor": cursor} if cursor else {})}
            page = await client.get(BILLS, params=params, headers=who.headers)
            assert page.status_code == 200, page.text
            body = page.json()
            assert len(body["data"]) <= 2
            seen += [b["bill_id"] for b in body["data"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen == list(reversed(issued))

    async def test_status_filter(self, client: httpx.AsyncClient) -> None:
        """`status` keeps only bills in that status."""
        who = await collector(client)
        kept = await issue(client, who)
        gone = await issue(client, who)
        cancelled = await client.post(f"{BILLS}/{gone['bill_id']}/cancel", headers=who.headers)
        assert cancelled.status_code == 200
        open_ = await client.get(BILLS, params={"status": "Open"}, headers=who.headers)
        assert [b["bill_id"] for b in open_.json()["data"]] == [kept["bill_id"]]
        done = await client.get(BILLS, params={"status": "Cancelled"}, headers=who.headers)
        assert [b["bill_id"] for b in done.json()["data"]] == [gone["bill_id"]]
        assert (await client.get(BILLS, params={"status": "Paid"}, headers=who.headers)).json()[
            "data"
        ] == []

    async def test_bad_parameters(self, client: httpx.AsyncClient) -> None:
        """An unknown status, a page size out of range and a forged cursor are refused,
        naming the parameter."""
        who = await collector(client)
        bad_status = await client.get(BILLS, params={"status": "Lost"}, headers=who.headers)
        assert bad_status.status_code == 422
        assert "query.status" in _field_paths(bad_status)
        too_big = await client.get(BILLS, params={"page_size": "201"}, headers=who.headers)
        assert too_big.status_code == 422
        forged = await client.get(BILLS, params={"cursor": "bm90LWEtY3Vyc29y"}, headers=who.headers)
        assert forged.status_code == 400
        assert _field_paths(forged) == ["cursor"]
        assert (await client.get(BILLS, params={"page_size": "1"}, headers=who.headers)).is_success


class TestCancelBill:
    async def test_cancel_open_bill(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        """Cancelling an Open bill makes it Cancelled and writes one bill.cancelled event;
        cancelling it again answers it unchanged, without a second event."""
        who = await collector(client)
        bill = await issue(client, who)
        path = f"{BILLS}/{bill['bill_id']}/cancel"
        first = await client.post(path, headers=who.headers)
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "Cancelled"
        again = await client.post(path, headers=who.headers)
        assert again.status_code == 200
        assert again.json() == first.json()
        cancelled = [e for e in await events_of(app, who.partner_id) if e[0] == "bill.cancelled"]
        assert cancelled == [
            ("bill.cancelled", {"bill_id": bill["bill_id"], "status": "Cancelled"})
        ]

    async def test_cancel_paid_bill_is_refused(self, client: httpx.AsyncClient) -> None:
        """A Paid bill cannot be cancelled: 409 bill-not-open, in both languages."""
        from tests.gateway.collections_helpers import pay_at_bank

        who = await collector(client)
        bill = await issue(client, who)
        assert (await pay_at_bank(client, who, bill["bill_id"])).status_code == 200
        path = f"{BILLS}/{bill['bill_id']}/cancel"
        refused = await client.post(path, headers=who.headers)
        assert refused.status_code == 409
        assert refused.json()["code"] == "bill-not-open"
        assert "Paid" in refused.json()["detail"]
        chinese = await client.post(path, headers={**who.headers, "Accept-Language": "zh-CN"})
        assert chinese.json()["title"] == "账单不在待缴状态"
        assert (await client.get(f"{BILLS}/{bill['bill_id']}", headers=who.headers)).json()[
            "status"
        ] == "Paid"

    async def test_cancel_with_key_replays(self, client: httpx.AsyncClient) -> None:
        """A cancellation sent with an Idempotency-Key is answered again on retry."""
        who = await collector(client)
        bill = await issue(client, who)
        headers = who.keyed("cancel-1")
        path = f"{BILLS}/{bill['bill_id']}/cancel"
        first = await client.post(path, headers=headers)
        again = await client.post(path, headers=headers)
        assert first.status_code == again.status_code == 200
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()


class TestPayCodeCollision:
    async def test_taken_pay_code_is_drawn_again(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """A pay code the partner already uses is drawn again, and the unit of work that
        issues the bill still commits (on PostgreSQL too)."""
        from gateway.collections.models import BillCategory, new_pay_code
        from gateway.collections.service import BillService
        from tests.factories import services_of

        who = await collector(client)
        taken = (await issue(client, who))["pay_code"]
        fresh = new_pay_code()
        codes = iter([taken, taken, fresh])
        services = services_of(app)
        service = BillService(
            services.db, services.outbox, services.clock, pay_codes=lambda: next(codes)
        )
        async with services.db.transaction() as uow:
            bill = await service.create(
                uow,
                partner_id=who.partner_id,
                category=BillCategory.MEDICAL,
                payer_reference="P-1",
                payer_name="李娜",
                description="门诊费用",
                amount=Money.of_cents(1500),
                due_date=date.today(),
            )
        assert bill.pay_code == fresh
        read = await client.get(f"{BILLS}/{bill.id}", headers=who.headers)
        assert read.json()["pay_code"] == fresh
