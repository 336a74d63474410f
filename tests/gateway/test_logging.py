"""Logs never carry secrets, tokens or personal data, and every request writes one line."""

from __future__ import annotations

import httpx
import pytest

from gateway.telemetry.logging import _Pending
from tests.factories import customer_grant, customer_headers, json_lines, sandbox_partner


class TestNoSecretsInLogs:
    @pytest.mark.parametrize("backend", ["sqlite"])
    async def test_full_flow_logs_nothing_sensitive(
        self, capfd: pytest.CaptureFixture[str], client: httpx.AsyncClient
    ) -> None:
        """A whole customer flow, including an error, logs each request and no secret,
        token, password, one-time code or name."""
        json_lines(capfd)
        partner = await sandbox_partner(client)
        grant = await customer_grant(client, partner)
        await client.get(
            "/v1/accounts", headers=customer_headers(client, grant, "GET", "/v1/accounts")
        )
        refused = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(partner.client_id, "wrong-secret"),
        )
        assert refused.status_code == 401
        lines = json_lines(capfd)
        output = repr(lines)
        requests = [line for line in lines if line["event"] == "request"]
        routes = [line["route"] for line in requests]
        assert "/v1/accounts" in routes
        assert "/sandbox/authorize" in routes
        assert any(line["status"] == 401 for line in requests)
        token_lines = [line for line in requests if line["route"] == "/oauth/token"]
        assert token_lines[0]["client_id"] == partner.client_id
        assert token_lines[0]["partner_id"] == partner.partner_id
        for secret in (
            partner.client_secret,
            grant.access_token,
            grant.refresh_token,
            "wrong-secret",
            '"sandbox"',
            "123456",
            "张",
        ):
            assert secret not in output


class TestBatching:
    def test_lines_wait_only_while_batching_is_held(
        self, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """A routine line is written at once unless a serving gateway holds batching; then it
        waits for the flush, and releasing the hold writes it."""
        pending = _Pending()
        capfd.readouterr()
        pending.add("stdout", b'{"event": "before"}\n')
        assert '"before"' in capfd.readouterr().out
        pending.hold()
        pending.add("stdout", b'{"event": "during"}\n')
        assert capfd.readouterr().out == ""
        pending.release()
        assert '"during"' in capfd.readouterr().out
        pending.add("stdout", b'{"event": "after"}\n')
        assert '"after"' in capfd.readouterr().out
