"""The access matrix: two partners, two customers each, every route that takes an id.

Only the owner — the partner's token, for the customer's authorised consent, with the right
permission — reads a resource; anyone else gets `404` (the resource) or `403
consent-insufficient` (the permission), and nothing of the resource in the body.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from gateway.clock import CHINA_TZ
from tests.factories import (
    CustomerGrant,
    Partner,
    customer_grant,
    customer_headers,
    partner_token,
    payment_grant,
    sandbox_partner,
)

CUSTOMERS = ("zhang.wei", "li.na")
READ_ALL = [
    "ReadAccountsBasic",
    "ReadAccountsDetail",
    "ReadBalances",
    "ReadTransactions",
    "ReadParty",
]


@dataclass
class Holding:
    """What one customer has at one partner: a read grant, a payment grant, their ids."""

    partner: Partner
    customer: str
    reader: CustomerGrant
    payer: CustomerGrant
    account_ids: list[str]
    payment_id: str
    consent_id: str
    secrets: list[str] = field(default_factory=list)


async def holding(client: httpx.AsyncClient, partner: Partner, customer: str) -> Holding:
    reader = await customer_grant(client, partner, customer=customer, permissions=READ_ALL)
    listed = await client.get(
        "/v1/accounts", headers=customer_headers(client, reader, "GET", "/v1/accounts")
    )
    assert listed.status_code == 200, listed.text
    accounts = [a["account_id"] for a in listed.json()["data"]]
    numbers = [a["account_number"] for a in listed.json()["data"]]
    payment = await payment_grant(client, partner, "1.00", customer=customer)
    headers = customer_headers(client, payment.grant, "POST", "/v1/payments")
    paid = await client.post(
        "/v1/payments",
        json=payment.body(),
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert paid.status_code == 201, paid.text
    return Holding(
        partner,
        customer,
        reader,
        payment.grant,
        accounts,
        paid.json()["payment_id"],
        reader.consent_id,
        numbers,
    )


def resource_paths(owner: Holding) -> list[tuple[str, str]]:
    """(path, which grant of a caller reads it: reader or payer)."""
    paths = [(f"/v1/payments/{owner.payment_id}", "payer")]
    for account_id in owner.account_ids:
        paths += [
            (f"/v1/accounts/{account_id}", "reader"),
            (f"/v1/accounts/{account_id}/balances", "reader"),
            (f"/v1/accounts/{account_id}/transactions", "reader"),
        ]
    return paths


@pytest.fixture
async def matrix(client: httpx.AsyncClient) -> list[Holding]:
    partners = [await sandbox_partner(client), await sandbox_partner(client)]
    return [await holding(client, p, c) for p in partners for c in CUSTOMERS]


class TestAccessMatrix:
    async def test_only_the_owner_reads_each_resource(
        self, client: httpx.AsyncClient, matrix: list[Holding]
    ) -> None:
        """Every id-taking customer route answers the owner and 404s everyone else, with
        nothing of the resource in the body."""
        for owner in matrix:
            for path, kind in resource_paths(owner):
                for caller in matrix:
                    grant = caller.payer if kind == "payer" else caller.reader
                    answer = await client.get(
                        path, headers=customer_headers(client, grant, "GET", path)
                    )
                    if caller is owner:
                        assert answer.status_code == 200, (path, answer.text)
                        continue
                    assert answer.status_code == 404, (path, caller.customer, answer.text)
                    assert answer.json()["code"] == "not-found"
                    for secret in [*owner.secrets, owner.payment_id, *owner.account_ids]:
                        if secret not in path:
                            assert secret not in answer.text

    async def test_consents_belong_to_their_partner(
        self, client: httpx.AsyncClient, matrix: list[Holding]
    ) -> None:
        """A partner reads and revokes its own consents only; the other partner's ids are 404."""
        for owner in matrix:
            for caller_partner in {h.partner.client_id: h.partner for h in matrix}.values():
                token = await partner_token(client, caller_partner, "consents")
                path = f"/v1/consents/{owner.consent_id}"
                answer = await client.get(path, headers={"Authorization": f"Bearer {token}"})
                if caller_partner is owner.partner:
                    assert answer.status_code == 200
                else:
                    assert answer.status_code == 404
                    assert owner.consent_id not in answer.text.replace(path, "")
                    revoke = await client.delete(path, headers={"Authorization": f"Bearer {token}"})
                    assert revoke.status_code == 404

    async def test_a_permission_not_granted_is_403(self, client: httpx.AsyncClient) -> None:
        """The owner's token for a consent without the permission gets 403
        consent-insufficient and no data."""
        partner = await sandbox_partner(client)
        basic = await customer_grant(client, partner, permissions=["ReadAccountsBasic"])
        listed = await client.get(
            "/v1/accounts", headers=customer_headers(client, basic, "GET", "/v1/accounts")
        )
        assert listed.status_code == 200
        account_id = listed.json()["data"][0]["account_id"]
        for path in (
            f"/v1/accounts/{account_id}/balances",
            f"/v1/accounts/{account_id}/transactions",
            "/v1/customer",
        ):
            answer = await client.get(path, headers=customer_headers(client, basic, "GET", path))
            assert answer.status_code == 403, (path, answer.text)
            assert answer.json()["code"] == "consent-insufficient"
            assert "amount" not in answer.json()
        payment_path = "/v1/payments/pay_" + "a" * 24
        answer = await client.get(
            payment_path, headers=customer_headers(client, basic, "GET", payment_path)
        )
        assert answer.status_code == 403


class TestPartnerResources:
    async def test_bills_belong_to_their_partner(self, client: httpx.AsyncClient) -> None:
        """Another partner's bill is 404 on every bill route and at the sandbox bank, with
        nothing of it in the body; the owner reads, pays and lists it."""
        owner, other = await sandbox_partner(client), await sandbox_partner(client)
        owner_auth = {
            "Authorization": f"Bearer {await partner_token(client, owner, 'collections')}"
        }
        other_auth = {
            "Authorization": f"Bearer {await partner_token(client, other, 'collections')}"
        }
        due = (datetime.now(CHINA_TZ).date() + timedelta(days=10)).isoformat()
        created = await client.post(
            "/v1/collections/bills",
            json={
                "payer_reference": "S-0001",
                "payer_name": "王小明",
                "amount": {"value": "88.00", "currency": "CNY"},
                "due_date": due,
                "category": "tuition",
                "description": "term fee",
            },
            headers={**owner_auth, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert created.status_code == 201, created.text
        bill = created.json()
        path = f"/v1/collections/bills/{bill['bill_id']}"
        secrets = [bill["pay_code"], "王小明", "S-0001"]
        refusals = [
            await client.get(path, headers=other_auth),
            await client.post(f"{path}/cancel", headers=other_auth),
            await client.post(f"/sandbox/bills/{bill['bill_id']}/pay", auth=other.basic),
        ]
        for refused in refusals:
            assert refused.status_code == 404, refused.text
            assert all(secret not in refused.text for secret in secrets)
        listed = await client.get("/v1/collections/bills", headers=other_auth)
        assert listed.json()["data"] == []
        assert (await client.get(path, headers=owner_auth)).status_code == 200
        paid = await client.post(f"/sandbox/bills/{bill['bill_id']}/pay", auth=owner.basic)
        assert paid.status_code == 200, paid.text
        today = datetime.now(CHINA_TZ).date().isoformat()
        theirs = await client.get(f"/v1/collections/statements/{today}", headers=other_auth)
        assert theirs.json()["items"] == []
        ours = await client.get(f"/v1/collections/statements/{today}", headers=owner_auth)
        assert [i["bill_id"] for i in ours.json()["items"]] == [bill["bill_id"]]


class TestSandboxInput:
    async def test_clock_advance_names_bad_fields(self, client: httpx.AsyncClient) -> None:
        """A negative, non-integer, empty or unknown advance is a 422 naming the field; the
        clock does not move."""
        partner = await sandbox_partner(client)
        for body, path in (
            ({"days": -1}, "days"),
            ({"hours": "soon"}, "hours"),
            ({"days": 1, "weeks": 1}, "weeks"),
            ({}, "hours"),
            ({"days": 400}, "days"),
        ):
            refused = await client.post("/sandbox/clock/advance", json=body, auth=partner.basic)
            assert refused.status_code == 422, (body, refused.text)
            assert any(path in e["path"] for e in refused.json()["errors"]), refused.json()
        moved = await client.post("/sandbox/clock/advance", json={"hours": 2}, auth=partner.basic)
        assert moved.status_code == 200
        now = datetime.fromisoformat(moved.json()["now"].replace("Z", "+00:00"))
        assert (
            timedelta(hours=1, minutes=59) < now - datetime.now(UTC) < timedelta(hours=2, minutes=1)
        )
