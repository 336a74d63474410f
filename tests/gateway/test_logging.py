"""Logs never carry secrets, tokens or personal data."""

from __future__ import annotations

import httpx
import pytest
from structlog.testing import capture_logs

from tests.factories import customer_grant, customer_headers, sandbox_partner


class TestNoSecretsInLogs:
    @pytest.mark.parametrize("backend", ["sqlite"])
    async def test_full_flow_logs_nothing_sensitive(self, client: httpx.AsyncClient) -> None:
        """A whole customer flow, including an error, logs no secret, token or name."""
        with capture_logs() as logs:
            partner = await sandbox_partner(client)
            grant = await customer_grant(client, partner)
            await client.get(
                "/v1/accounts", headers=customer_headers(client, grant, "GET", "/v1/accounts")
            )
            await client.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(partner.client_id, "wrong-secret"),
            )
        text = repr(logs)
        for secret in (
            partner.client_secret,
            grant.access_token,
            grant.refresh_token,
            "wrong-secret",
            "sandbox",
            "张",
        ):
            assert secret not in text
