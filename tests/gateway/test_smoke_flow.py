"""The customer flow end to end through the ASGI app (shared builders)."""

from __future__ import annotations

import httpx

from tests.factories import customer_grant, customer_headers, sandbox_partner


class TestCustomerFlow:
    async def test_accounts_and_balances_with_dpop(self, client: httpx.AsyncClient) -> None:
        """A DPoP-bound customer token reads the consented accounts and their balances."""
        partner = await sandbox_partner(client)
        grant = await customer_grant(client, partner)
        listed = await client.get(
            "/v1/accounts", headers=customer_headers(client, grant, "GET", "/v1/accounts")
        )
        assert listed.status_code == 200, listed.text
        accounts = listed.json()["data"]
        assert accounts
        assert all(a["account_id"].startswith("acc_") for a in accounts)
        path = f"/v1/accounts/{accounts[0]['account_id']}/balances"
        balances = await client.get(path, headers=customer_headers(client, grant, "GET", path))
        assert balances.status_code == 200, balances.text
        assert balances.json()["data"][0]["amount"]["currency"] == "CNY"
