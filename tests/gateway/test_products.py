"""The bank's capabilities and product catalogues (A1), with a partner-level token."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import partner_token, sandbox_partner


@pytest.fixture
async def auth(client: httpx.AsyncClient) -> dict[str, str]:
    partner = await sandbox_partner(client)
    return {"Authorization": f"Bearer {await partner_token(client, partner, 'products')}"}


@pytest.mark.parametrize("backend", ["sqlite"])
class TestProducts:
    async def test_capabilities_follow_the_core(
        self, client: httpx.AsyncClient, auth: dict[str, str]
    ) -> None:
        """/v1/capabilities lists what the core adapter declares and implements."""
        body = (await client.get("/v1/capabilities", headers=auth)).json()
        assert body["core"] == "sandbox"
        assert body["capabilities"] == [
            "accounts",
            "collections",
            "customers",
            "deposits",
            "loans",
            "payments",
            "wealth",
        ]

    async def test_loans_and_wealth(self, client: httpx.AsyncClient, auth: dict[str, str]) -> None:
        """Loan and wealth products come with amounts as decimal strings and risk levels."""
        loans = (await client.get("/v1/products/loans", headers=auth)).json()["data"]
        assert {p["product_id"] for p in loans} >= {"prd_loan_student", "prd_loan_consumer"}
        student = next(p for p in loans if p["product_id"] == "prd_loan_student")
        assert student["max_amount"] == {"value": "20000.00", "currency": "CNY"}
        wealth = (await client.get("/v1/products/wealth", headers=auth)).json()["data"]
        assert [p["risk_level"] for p in wealth] == ["R1", "R2", "R3", "R4", "R5"]

    async def test_pages_follow_the_cursor(
        self, client: httpx.AsyncClient, auth: dict[str, str]
    ) -> None:
        """page_size and the opaque cursor walk the whole list; a forged cursor is a 400."""
        first = (await client.get("/v1/products/wealth?page_size=2", headers=auth)).json()
        assert len(first["data"]) == 2
        seen = [p["product_id"] for p in first["data"]]
        cursor = first["next_cursor"]
        while cursor:
            page = (
                await client.get(f"/v1/products/wealth?page_size=2&cursor={cursor}", headers=auth)
            ).json()
            seen += [p["product_id"] for p in page["data"]]
            cursor = page["next_cursor"]
        assert len(seen) == len(set(seen)) == 5
        forged = await client.get("/v1/products/wealth?cursor=bm90LWEtbnVtYmVy", headers=auth)
        assert forged.status_code == 400
        assert forged.json()["errors"] == [{"path": "cursor", "message": "not a cursor we issued"}]
