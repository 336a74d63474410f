"""Text a partner sends in a consent is plain: control characters are refused, on both
databases, naming the field."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.factories import partner_token, sandbox_partner


def payment_consent(
    reference: str = "2026 秋季学费 张小明", name: str = "阳光小学"
) -> dict[str, Any]:
    return {
        "type": "payment",
        "permissions": ["InitiatePayments"],
        "payment": {
            "amount": {"value": "3800.00", "currency": "CNY"},
            "creditor": {"account_number": "6217001234567890123", "name": name},
            "reference": reference,
        },
    }


async def post_consent(
    client: httpx.AsyncClient, token: str, body: dict[str, Any]
) -> httpx.Response:
    """POST a consent as ASCII JSON with escapes (so it may carry any code point)."""
    return await client.post(
        "/v1/consents",
        content=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


class TestConsentText:
    @pytest.mark.parametrize("bad", ["\x00", "\n", "\x1b[31m", "\u202e", "\ud83d"])
    async def test_control_characters_are_refused_naming_the_field(
        self, client: httpx.AsyncClient, bad: str
    ) -> None:
        """NUL, line breaks, escapes, bidi overrides and lone surrogates in a reference or a
        creditor name are a 422 naming that field, never a 500."""
        token = await partner_token(client, await sandbox_partner(client), "consents")
        response = await post_consent(client, token, payment_consent(reference=f"学费{bad}张小明"))
        assert response.status_code == 422, response.text
        assert [e["path"] for e in response.json()["errors"]] == ["payment.reference"]
        response = await post_consent(client, token, payment_consent(name=f"阳光{bad}小学"))
        assert response.status_code == 422, response.text
        assert [e["path"] for e in response.json()["errors"]] == ["payment.creditor.name"]

    async def test_plain_text_with_spaces_and_emoji_is_accepted(
        self, client: httpx.AsyncClient
    ) -> None:
        """The same consent with ordinary text, spaces and an emoji is created."""
        token = await partner_token(client, await sandbox_partner(client), "consents")
        response = await post_consent(client, token, payment_consent(reference="学费 2026 🎒"))
        assert response.status_code == 201, response.text
        assert response.json()["payment"]["reference"] == "学费 2026 🎒"

    async def test_permissions_are_plain_too(self, client: httpx.AsyncClient) -> None:
        """A permission carrying a NUL is refused like any other text."""
        token = await partner_token(client, await sandbox_partner(client), "consents")
        body = {"type": "account_access", "permissions": ["ReadBalances\x00"]}
        response = await post_consent(client, token, body)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["path"] == "permissions"
        body = {"type": "account_access", "permissions": ["ReadBalances"]}
        assert (await post_consent(client, token, body)).status_code == 201


class TestPlainTextRule:
    def test_the_sandbox_and_the_gateway_refuse_the_same_characters(self) -> None:
        """The sandbox, which may not import the gateway, keeps the same rule as the gateway."""
        from gateway.http import validation
        from sandbox import router

        assert router.CONTROL_CHARACTERS.pattern == validation.CONTROL_CHARACTERS.pattern
        for text in ("\x00", "\t", "\x85", "\u2029", "\u2066", "\udfff"):
            assert validation.has_control_characters(text)
            assert router.has_control_characters([text])
        for text in ("阳光小学", "Sunshine School", "学费 🎒", "\u200d"):
            assert not validation.has_control_characters(text)
            assert not router.has_control_characters(text)
