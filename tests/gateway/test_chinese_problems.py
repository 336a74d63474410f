"""A reader who asks for Chinese gets whole Chinese problems: no English sentence in the
title, the detail or any field message (only field names, codes and literal values)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from tests.factories import partner_token, pushed_request, sandbox_partner

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
EN = {"Accept-Language": "en"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def english_left(text: str, literals: tuple[str, ...]) -> str:
    """What ASCII letters remain in `text` once the literal values are taken out."""
    for literal in sorted(literals, key=len, reverse=True):
        text = text.replace(literal, "")
    return "".join(re.findall(r"[A-Za-z]+", text))


def assert_whole_chinese(response: httpx.Response, *literals: str) -> dict[str, Any]:
    """Title, detail and every field message are Chinese, apart from `literals`."""
    assert response.headers["content-language"] == "zh-CN"
    body: dict[str, Any] = response.json()
    messages = [body["title"], body["detail"], *(e["message"] for e in body.get("errors", []))]
    for message in messages:
        assert CJK.search(message), message
        assert english_left(message, literals) == "", message
    return body


def assert_english(response: httpx.Response) -> None:
    """The same problem asked for in English is English (so the check above can fail)."""
    assert response.headers["content-language"] == "en"
    body = response.json()
    for message in [body["title"], body["detail"], *(e["message"] for e in body.get("errors", []))]:
        assert not CJK.search(message), message
        assert re.search(r"[A-Za-z]{3,} [A-Za-z]{2,}", message), message


class TestWholeChinese:
    async def test_a_validation_error(self, client: httpx.AsyncClient) -> None:
        """A consent with a NUL, a bad amount and a wrong permission is Chinese throughout."""
        token = await partner_token(client, await sandbox_partner(client), "consents")
        body = {
            "type": "payment",
            "permissions": ["InitiatePayments"],
            "payment": {
                "amount": {"value": "12.3"},
                "creditor": {"account_number": "6217001234567890123", "name": "阳光小学"},
                "reference": "学费\u0000",
            },
            "colour": "red",
        }

        async def post(language: dict[str, str]) -> httpx.Response:
            return await client.post(
                "/v1/consents",
                content=json.dumps(body).encode(),
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                    **language,
                },
            )

        problem = assert_whole_chinese(await post(ZH), "errors", "NUL", "128.50")
        assert {e["path"] for e in problem["errors"]} == {
            "payment.amount.value",
            "payment.reference",
            "colour",
        }
        assert_english(await post(EN))

    async def test_the_model_rules_of_a_consent(self, client: httpx.AsyncClient) -> None:
        """A consent's own rules (permissions of its type, payment terms) speak Chinese too."""
        token = await partner_token(client, await sandbox_partner(client), "consents")
        headers = {"Authorization": f"Bearer {token}"}
        body = {"type": "account_access", "permissions": ["InitiatePayments"]}
        response = await client.post("/v1/consents", json=body, headers={**headers, **ZH})
        assert_whole_chinese(
            response,
            "errors",
            "account_access",
            "InitiatePayments",
            "ReadAccountsBasic",
            "ReadAccountsDetail",
            "ReadBalances",
            "ReadTransactions",
            "ReadPartyDetail",
            "ReadParty",
        )
        assert_english(await client.post("/v1/consents", json=body, headers={**headers, **EN}))

    @pytest.mark.parametrize(
        ("path", "literals"),
        [
            ("/v1/consents/cns_aaaaaaaa", ("POST /v1/consents", "consent_id")),
            ("/v1/nothing-here", ("/openapi.json",)),
            ("/problems/no-such-problem", ("no-such-problem", "/#problems")),
        ],
    )
    async def test_not_found(
        self, client: httpx.AsyncClient, path: str, literals: tuple[str, ...]
    ) -> None:
        """An unknown consent, path or problem page is a Chinese 404."""
        token = await partner_token(client, await sandbox_partner(client), "consents")
        headers = {"Authorization": f"Bearer {token}"}
        response = await client.get(path, headers={**headers, **ZH})
        assert response.status_code == 404
        assert_whole_chinese(response, *literals)
        assert_english(await client.get(path, headers={**headers, **EN}))

    async def test_a_list_of_choices(self, client: httpx.AsyncClient) -> None:
        """An unknown sector lists the sectors in Chinese fashion, with no English "or";
        English keeps its own list, and a listed sector signs up."""
        signup = {"partner_name": "阳光小学", "sector": "casino", "contact_email": "it@x.example"}
        response = await client.post("/sandbox/signup", json=signup, headers=ZH)
        sectors = ("government", "school", "hospital", "transport", "other")
        problem = assert_whole_chinese(response, "errors", *sectors)
        [error] = problem["errors"]
        assert error["path"] == "sector"
        assert error["message"] == "必须是以下之一：" + "、".join(sectors) + "。"
        english = await client.post("/sandbox/signup", json=signup, headers=EN)
        assert_english(english)
        assert english.json()["errors"][0]["message"] == (
            "This must be one of: government, school, hospital, transport or other."
        )
        control = await client.post("/sandbox/signup", json={**signup, "sector": "transport"})
        assert control.status_code == 201, control.text

    async def test_sandbox_errors(self, client: httpx.AsyncClient) -> None:
        """Sign-up and browserless-consent refusals are Chinese throughout."""
        signup = {"partner_name": "阳光小学", "sector": "school", "contact_email": "it@school"}
        response = await client.post("/sandbox/signup", json=signup, headers=ZH)
        assert_whole_chinese(response, "errors", "it@school.example")
        signup["contact_email"] = "it@school.example"
        signup["redirect_uris"] = ["ftp://school.example/cb"]
        response = await client.post("/sandbox/signup", json=signup, headers=ZH)
        assert_whole_chinese(response, "errors", "http(s)", "https", "http", "localhost")
        assert_english(await client.post("/sandbox/signup", json=signup, headers=EN))

        partner = await sandbox_partner(client)
        request_uri, _ = await pushed_request(client, partner)
        decision = {"request_uri": request_uri, "customer": "nobody"}
        response = await client.post(
            "/sandbox/authorize", json=decision, auth=partner.basic, headers=ZH
        )
        assert response.status_code == 400
        assert_whole_chinese(response, "nobody", "GET /sandbox/customers")
        assert_english(
            await client.post("/sandbox/authorize", json=decision, auth=partner.basic, headers=EN)
        )

    async def test_sign_up_limit(self, client: httpx.AsyncClient) -> None:
        """The sign-up limit's refusal is Chinese, with its numbers."""
        signup = {
            "partner_name": "阳光小学",
            "sector": "school",
            "contact_email": "it@school.example",
        }
        for _ in range(10):
            await client.post("/sandbox/signup", json=signup)
        response = await client.post("/sandbox/signup", json=signup, headers=ZH)
        assert response.status_code == 429
        assert_whole_chinese(response)
        assert_english(await client.post("/sandbox/signup", json=signup, headers=EN))

    async def test_http_refusals(self, client: httpx.AsyncClient) -> None:
        """405, 413 and 415 explain themselves in Chinese."""
        token = await partner_token(client, await sandbox_partner(client), "consents")
        headers = {"Authorization": f"Bearer {token}", **ZH}
        not_allowed = await client.put("/v1/consents/cns_aaaaaaaa", headers=headers)
        assert not_allowed.status_code == 405
        assert_whole_chinese(not_allowed, "PUT", "Allow", "GET", "HEAD", "DELETE")
        too_large = await client.post(
            "/v1/consents",
            content=b"{" + b" " * 70_000 + b"}",
            headers={**headers, "Content-Type": "application/json"},
        )
        assert too_large.status_code == 413
        assert_whole_chinese(too_large)
        not_json = await client.post(
            "/v1/consents", content=b"type=x", headers={**headers, "Content-Type": "text/plain"}
        )
        assert not_json.status_code == 415
        assert_whole_chinese(not_json, "JSON", "Content-Type", "application/json")
