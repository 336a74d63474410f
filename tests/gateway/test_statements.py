"""The daily statement: items, exact totals, the CSV and its digest, closed days."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import timedelta
from decimal import Decimal

import httpx
from fastapi import FastAPI

from gateway.clock import utcnow
from tests.factories import services_of
from tests.gateway.collections_helpers import (
    Collector,
    advance,
    collector,
    issue,
    partner_today,
    pay_at_bank,
)

STATEMENTS = "/v1/collections/statements"
HEADER = "bill_id,payer_reference,category,amount,channel,payment_id,settled_at"


async def _paid_day(app: FastAPI, client: httpx.AsyncClient, who: Collector) -> list[str]:
    """Bills of three categories paid today by bank channel and by customer payment,
    one left open and one cancelled; returns the paid bills' ids in payment order."""
    services = services_of(app)
    paid = []
    for category, value, ref in [
        ("tuition", "3800.00", "S-1"),
        ("medical", "0.10", "P-7"),
        ("tuition", "1200.20", "S-2"),
        ("utility", "99999999.99", "U-3"),
    ]:
        bill = await issue(
            client,
            who,
            category=category,
            payer_reference=ref,
            amount={"value": value, "currency": "CNY"},
        )
        if ref == "S-2":
            async with services.db.transaction() as uow:
                await services.bills.settle(
                    uow,
                    who.partner_id,
                    bill["bill_id"],
                    channel="customer_payment",
                    payment_id="pay_s2",
                    at=await services.clock.now(who.partner_id),
                )
        else:
            assert (await pay_at_bank(client, who, bill["bill_id"])).status_code == 200
        paid.append(bill["bill_id"])
    await issue(client, who, category="transport")  # stays open
    cancelled = await issue(client, who, category="government_fee")
    await client.post(f"/v1/collections/bills/{cancelled['bill_id']}/cancel", headers=who.headers)
    return paid


class TestStatement:
    async def test_json_items_and_exact_totals(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """Today's statement lists every settled bill in settlement order, with exact totals
        per category and overall, and is open."""
        who = await collector(client)
        paid = await _paid_day(app, client, who)
        today = await partner_today(app, who.partner_id)
        response = await client.get(f"{STATEMENTS}/{today}", headers=who.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["date"] == today.isoformat()
        assert body["status"] == "open"
        assert [i["bill_id"] for i in body["items"]] == paid
        assert body["count"] == 4
        assert body["total"] == {"value": "100005000.29", "currency": "CNY"}
        assert body["categories"] == [
            {"category": "tuition", "count": 2, "total": {"value": "5000.20", "currency": "CNY"}},
            {"category": "medical", "count": 1, "total": {"value": "0.10", "currency": "CNY"}},
            {
                "category": "utility",
                "count": 1,
                "total": {"value": "99999999.99", "currency": "CNY"},
            },
        ]
        by_ref = {i["payer_reference"]: i for i in body["items"]}
        assert by_ref["S-2"]["channel"] == "customer_payment"
        assert by_ref["S-2"]["payment_id"] == "pay_s2"
        assert by_ref["S-1"]["channel"] == "bank_channel"
        assert by_ref["S-1"]["payment_id"] is None
        assert sum(Decimal(i["amount"]["value"]) for i in body["items"]) == Decimal(
            body["total"]["value"]
        )

    async def test_csv_and_digest(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        """`Accept: text/csv` returns RFC 4180 CSV whose SHA-256 is the JSON's digest; both
        carry the same Statement-Digest header."""
        who = await collector(client)
        paid = await _paid_day(app, client, who)
        today = await partner_today(app, who.partner_id)
        path = f"{STATEMENTS}/{today}"
        as_json = await client.get(path, headers=who.headers)
        as_csv = await client.get(path, headers={**who.headers, "Accept": "text/csv"})
        assert as_csv.status_code == 200, as_csv.text
        assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
        digest = hashlib.sha256(as_csv.content).hexdigest()
        assert as_json.json()["digest"] == digest
        assert as_csv.headers["statement-digest"] == f"sha-256={digest}"
        assert as_json.headers["statement-digest"] == as_csv.headers["statement-digest"]
        assert not as_csv.content.startswith(b"\xef\xbb\xbf")
        text = as_csv.content.decode("utf-8")
        lines = text.split("\r\n")
        assert lines[0] == HEADER
        assert lines[-1] == ""
        assert "\n" not in text.replace("\r\n", "")
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        assert [r["bill_id"] for r in rows] == paid
        items = as_json.json()["items"]
        for row, item in zip(rows, items, strict=True):
            assert row["amount"] == item["amount"]["value"]
            assert row["settled_at"] == item["settled_at"]
            assert row["settled_at"].endswith("Z")
            assert row["payment_id"] == (item["payment_id"] or "")

    async def test_empty_day(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        """A day without settlements has no items, zero totals, and the digest of the header."""
        who = await collector(client)
        today = await partner_today(app, who.partner_id)
        body = (await client.get(f"{STATEMENTS}/{today}", headers=who.headers)).json()
        assert body["items"] == body["categories"] == []
        assert body["count"] == 0
        assert body["total"] == {"value": "0.00", "currency": "CNY"}
        assert body["digest"] == hashlib.sha256(HEADER.encode() + b"\r\n").hexdigest()

    async def test_closed_day_never_changes(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        """Once the partner's day is over its statement is closed, and bills settled
        afterwards (pending ones included) never change it."""
        who = await collector(client)
        await _paid_day(app, client, who)
        pending = await issue(client, who, amount={"value": "7.55", "currency": "CNY"})
        assert (await pay_at_bank(client, who, pending["bill_id"])).status_code == 202
        day = await partner_today(app, who.partner_id)
        await advance(app, who.partner_id, timedelta(days=1))
        path = f"{STATEMENTS}/{day}"
        closed = await client.get(path, headers=who.headers)
        assert closed.json()["status"] == "closed"
        closed_csv = (await client.get(path, headers={**who.headers, "Accept": "text/csv"})).content
        late = await issue(client, who, category="medical")
        assert (await pay_at_bank(client, who, late["bill_id"])).status_code == 200
        services = services_of(app)
        await services.bills.process_due(None, utcnow() + timedelta(days=3))
        # A payment reported late is booked on the partner's current day, not the closed one.
        reported = await issue(client, who)
        async with services.db.transaction() as uow:
            await services.bills.settle(
                uow,
                who.partner_id,
                reported["bill_id"],
                channel="customer_payment",
                payment_id="pay_late",
                at=utcnow() - timedelta(days=1),
            )
        again = await client.get(path, headers=who.headers)
        assert again.json() == closed.json()
        assert (await client.get(path, headers={**who.headers, "Accept": "text/csv"})).content == (
            closed_csv
        )
        today = await client.get(f"{STATEMENTS}/{day + timedelta(days=1)}", headers=who.headers)
        assert today.json()["status"] == "open"
        assert {i["bill_id"] for i in today.json()["items"]} == {
            late["bill_id"],
            reported["bill_id"],
        }

    async def test_other_partners_settlements_are_absent(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """A partner's statement holds only its own bills."""
        who, other = await collector(client), await collector(client, "仁和医院")
        await _paid_day(app, client, who)
        today = await partner_today(app, other.partner_id)
        body = (await client.get(f"{STATEMENTS}/{today}", headers=other.headers)).json()
        assert body["items"] == []


class TestStatementRequests:
    async def test_future_date_is_refused(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        """A day still to come is 422 naming the date; today is fine."""
        who = await collector(client)
        today = await partner_today(app, who.partner_id)
        future = await client.get(f"{STATEMENTS}/{today + timedelta(days=1)}", headers=who.headers)
        assert future.status_code == 422
        assert [e["path"] for e in future.json()["errors"]] == ["path.date"]
        assert (await client.get(f"{STATEMENTS}/{today}", headers=who.headers)).status_code == 200

    async def test_malformed_date_is_refused(self, client: httpx.AsyncClient) -> None:
        """A date that is not YYYY-MM-DD (a number of seconds, a timestamp), or one before
        statements begin, is 422 naming it."""
        who = await collector(client)
        for bad in (
            "2026-02-30",
            "yesterday",
            "0",
            "1764288000",
            "2026-11-28T00:00:00Z",
            "1969-12-31",
        ):
            response = await client.get(f"{STATEMENTS}/{bad}", headers=who.headers)
            assert response.status_code == 422, bad
            assert [e["path"] for e in response.json()["errors"]] == ["path.date"]

    async def test_accept_negotiation(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        """JSON by default and for wildcards; CSV when preferred; 406 for anything else."""
        who = await collector(client)
        path = f"{STATEMENTS}/{await partner_today(app, who.partner_id)}"
        cases = {
            None: "application/json",
            "*/*": "application/json",
            "application/json": "application/json",
            "text/csv": "text/csv; charset=utf-8",
            "text/*": "text/csv; charset=utf-8",
            "application/json;q=0.5, text/csv": "text/csv; charset=utf-8",
            "text/csv;q=0, */*": "application/json",
        }
        for accept, expected in cases.items():
            headers = {**who.headers, **({"Accept": accept} if accept else {})}
            response = await client.get(path, headers=headers)
            assert response.status_code == 200, accept
            assert response.headers["content-type"] == expected, accept
            assert response.headers["vary"] == "Accept"
        for accept in ("application/xml", "text/html", "text/csv;q=0"):
            refused = await client.get(path, headers={**who.headers, "Accept": accept})
            assert refused.status_code == 406, accept
            assert refused.json()["code"] == "not-acceptable"
