"""A school's term: 100 tuition bills, 60 paid across both channels, 5 cancelled, 10 expired
by the clock; the day's statement reconciles to the cent in JSON and CSV, and the events
list matches."""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from gateway.clock import CHINA_TZ
from tests.factories import (
    Partner,
    customer_headers,
    partner_token,
    payment_grant,
    sandbox_partner,
)

BILLS = 100
ONLINE = 20  # paid by a parent's consented payment
AT_BANK = 40  # paid at the bank's counter, ATM or mobile banking
CANCELLED = 5
DUE_TODAY = 10  # left unpaid: the clock expires them
CREDITOR = {"account_number": "6217001234567890123", "name": "阳光小学"}


def amount(number: int) -> str:
    return f"{100 + number}.{number % 50:02d}"  # never .51-.55: no magic outcome


async def all_events(client: httpx.AsyncClient, partner: Partner) -> list[dict[str, Any]]:
    token = await partner_token(client, partner, "events")
    found: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        params = {"page_size": "200", **({"after": after} if after else {})}
        page = await client.get(
            "/v1/events", params=params, headers={"Authorization": f"Bearer {token}"}
        )
        assert page.status_code == 200, page.text
        found += page.json()["data"]
        if page.json()["next_cursor"] is None:
            return found
        after = page.json()["next_cursor"]


class TestSchoolTerm:
    async def test_a_term_reconciles(self, client: httpx.AsyncClient) -> None:
        """The statement of the day lists exactly the 60 paid bills, totals to the cent in
        JSON and CSV with one digest, and the events tell the same story."""
        school = await sandbox_partner(client)
        token = await partner_token(client, school, "collections consents")
        auth = {"Authorization": f"Bearer {token}"}
        listed = await client.get("/v1/collections/bills?page_size=1", headers=auth)
        assert listed.status_code == 200, listed.text
        today = datetime.now(CHINA_TZ).date()
        bills = []
        for number in range(BILLS):
            due = today if number >= BILLS - DUE_TODAY else today + timedelta(days=30)
            created = await client.post(
                "/v1/collections/bills",
                json={
                    "payer_reference": f"S2026-{number:04d}",
                    "payer_name": f"学生{number:03d}",
                    "amount": {"value": amount(number), "currency": "CNY"},
                    "due_date": due.isoformat(),
                    "category": "tuition",
                    "description": "2026 秋季学期学费",
                },
                headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
            )
            assert created.status_code == 201, created.text
            bills.append(created.json())

        paid: dict[str, Decimal] = {}
        for bill in bills[:ONLINE]:
            grant = await payment_grant(
                client,
                school,
                bill["amount"]["value"],
                creditor=CREDITOR,
                reference=bill["pay_code"],
            )
            headers = customer_headers(client, grant.grant, "POST", "/v1/payments")
            payment = await client.post(
                "/v1/payments",
                json=grant.body(bill_id=bill["bill_id"]),
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            )
            assert payment.status_code == 201, payment.text
            assert payment.json()["status"] == "Completed"
            paid[bill["bill_id"]] = Decimal(bill["amount"]["value"])
        channels = ("counter", "atm", "mobile_banking")
        for index, bill in enumerate(bills[ONLINE : ONLINE + AT_BANK]):
            at_bank = await client.post(
                f"/sandbox/bills/{bill['bill_id']}/pay",
                json={"channel": channels[index % 3]},
                auth=school.basic,
            )
            assert at_bank.status_code == 200, at_bank.text
            paid[bill["bill_id"]] = Decimal(bill["amount"]["value"])
        for bill in bills[ONLINE + AT_BANK : ONLINE + AT_BANK + CANCELLED]:
            cancelled = await client.post(
                f"/v1/collections/bills/{bill['bill_id']}/cancel", headers=auth
            )
            assert cancelled.status_code == 200, cancelled.text

        day = await self._settlement_day(client, auth, bills[0]["bill_id"])
        url = f"/v1/collections/statements/{day.isoformat()}"
        open_day = await client.get(url, headers=auth)
        assert open_day.json()["status"] == "open"

        advanced = await client.post("/sandbox/clock/advance", json={"days": 1}, auth=school.basic)
        assert advanced.status_code == 200, advanced.text
        assert advanced.json()["expired_bills"] == DUE_TODAY

        statement = await client.get(url, headers=auth)
        assert statement.status_code == 200, statement.text
        body = statement.json()
        assert body["status"] == "closed"
        assert {item["bill_id"] for item in body["items"]} == set(paid)
        assert body["count"] == ONLINE + AT_BANK
        assert Decimal(body["total"]["value"]) == sum(paid.values())
        assert body["categories"] == [{"category": "tuition", "count": 60, "total": body["total"]}]
        assert Counter(i["channel"] for i in body["items"]) == {
            "customer_payment": ONLINE,
            "bank_channel": AT_BANK,
        }
        csv = await client.get(url, headers={**auth, "Accept": "text/csv"})
        assert csv.status_code == 200
        assert hashlib.sha256(csv.content).hexdigest() == body["digest"]
        assert csv.headers["statement-digest"] == statement.headers["statement-digest"]
        rows = csv.content.decode().split("\r\n")[1:-1]
        assert len(rows) == ONLINE + AT_BANK
        assert sum(Decimal(r.split(",")[3]) for r in rows) == sum(paid.values())

        statuses = Counter()
        page = await client.get("/v1/collections/bills?page_size=200", headers=auth)
        for bill in page.json()["data"]:
            statuses[bill["status"]] += 1
        assert statuses == {
            "Paid": ONLINE + AT_BANK,
            "Cancelled": CANCELLED,
            "Expired": DUE_TODAY,
            "Open": BILLS - ONLINE - AT_BANK - CANCELLED - DUE_TODAY,
        }

        events = Counter(e["type"] for e in await all_events(client, school))
        assert events["bill.paid"] == ONLINE + AT_BANK
        assert events["bill.cancelled"] == CANCELLED
        assert events["bill.expired"] == DUE_TODAY
        assert events["payment.status_changed"] == ONLINE

        late = await client.post(
            f"/sandbox/bills/{bills[-DUE_TODAY - 1]['bill_id']}/pay", auth=school.basic
        )
        assert late.status_code == 200, late.text
        assert (await client.get(url, headers=auth)).json()["digest"] == body["digest"]

    async def _settlement_day(
        self, client: httpx.AsyncClient, auth: dict[str, str], bill_id: str
    ) -> date:
        bill = await client.get(f"/v1/collections/bills/{bill_id}", headers=auth)
        settled = datetime.fromisoformat(bill.json()["settled_at"].replace("Z", "+00:00"))
        return settled.astimezone(CHINA_TZ).date()
