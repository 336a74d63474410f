"""Every error is RFC 9457 problem+json with the request id; bad input never yields a 500."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import partner_token, sandbox_partner

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == f"/problems/{code}"
    assert body["code"] == code
    assert body["status"] == status
    assert body["instance"] == response.headers["x-request-id"]
    return dict(body)


class TestProblemDocuments:
    async def test_unknown_route(self, client: httpx.AsyncClient) -> None:
        """An unknown route is a JSON 404, never an HTML page."""
        assert_problem(await client.get("/v1/nothing-here"), 404, "not-found")

    async def test_wrong_method(self, client: httpx.AsyncClient) -> None:
        """A wrong method is a JSON 405 with Allow."""
        response = await client.put("/healthz")
        assert_problem(response, 405, "method-not-allowed")

    async def test_request_id_echo_and_interaction_id(self, client: httpx.AsyncClient) -> None:
        """A safe X-Request-ID and the x-fapi-interaction-id are echoed."""
        response = await client.get(
            "/healthz",
            headers={"X-Request-ID": "req-123", "x-fapi-interaction-id": "93bac548-d2de-4546-b106"},
        )
        assert response.headers["x-request-id"] == "req-123"
        assert response.headers["x-fapi-interaction-id"] == "93bac548-d2de-4546-b106"

    async def test_unsafe_request_id_replaced(self, client: httpx.AsyncClient) -> None:
        """An unsafe X-Request-ID is replaced by a generated one."""
        response = await client.get("/healthz", headers={"X-Request-ID": "<script>"})
        assert response.headers["x-request-id"] != "<script>"
        assert len(response.headers["x-request-id"]) == 36

    async def test_chinese_titles(self, client: httpx.AsyncClient) -> None:
        """Accept-Language: zh-CN gives Chinese title and detail."""
        response = await client.get("/v1/accounts", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        body = assert_problem(response, 401, "invalid-token")
        assert body["title"] == "访问令牌无效或缺失"
        assert "WWW-Authenticate" in response.headers

    async def test_unhandled_exception(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        """An unexpected exception is a 500 problem carrying the request id, no stack trace."""

        @app.get("/boom")
        async def boom() -> None:
            raise RuntimeError("secret internals: SELECT * FROM clients")

        response = await client.get("/boom")
        body = assert_problem(response, 500, "internal-error")
        assert "SELECT" not in response.text
        assert "Traceback" not in response.text
        assert body["instance"]


class TestBadInput:
    async def test_body_too_large(self, client: httpx.AsyncClient) -> None:
        """Bodies over 64 KiB are refused with 413 before they are read."""
        response = await client.post(
            "/sandbox/signup",
            content=b"x" * (65 * 1024),
            headers={"content-type": "application/json"},
        )
        assert_problem(response, 413, "payload-too-large")

    async def test_chunked_body_too_large(self, client: httpx.AsyncClient) -> None:
        """A streamed body without Content-Length is cut off at the limit too."""

        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(80):
                yield b"y" * 1024

        response = await client.post(
            "/oauth/token",
            content=chunks(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 413

    async def test_malformed_json(self, client: httpx.AsyncClient) -> None:
        """Malformed JSON is 400 invalid-request."""
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "consents")
        response = await client.post(
            "/v1/consents",
            content=b"{not json",
            headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
        )
        assert_problem(response, 400, "invalid-request")

    async def test_unknown_field_rejected(self, client: httpx.AsyncClient) -> None:
        """Unknown fields are rejected with the path of the offending field."""
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "consents")
        response = await client.post(
            "/v1/consents",
            headers={"Authorization": f"Bearer {token}"},
            json={"type": "account_access", "permissions": ["ReadBalances"], "colour": "red"},
        )
        body = assert_problem(response, 422, "validation-failed")
        assert any(e["path"] == "colour" for e in body["errors"])  # type: ignore[union-attr]

    async def test_permission_of_other_type(self, client: httpx.AsyncClient) -> None:
        """A permission that does not belong to the consent type is a validation error."""
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "consents")
        response = await client.post(
            "/v1/consents",
            headers={"Authorization": f"Bearer {token}"},
            json={"type": "account_access", "permissions": ["InitiatePayments"]},
        )
        assert_problem(response, 422, "validation-failed")

    @pytest.mark.parametrize(
        "body",
        [
            b"grant_type=client_credentials&grant_type=client_credentials",
            b"%ff%fe=\xff",
            b"a=1&&&b",
            b"",
        ],
    )
    async def test_bad_form_bodies(self, client: httpx.AsyncClient, body: bytes) -> None:
        """Repeated parameters and bad form encoding are invalid_request, never a 500."""
        response = await client.post(
            "/oauth/token",
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"

    async def test_form_endpoint_wants_form(self, client: httpx.AsyncClient) -> None:
        """A JSON body at the token endpoint is refused."""
        response = await client.post("/oauth/token", json={"grant_type": "client_credentials"})
        assert response.status_code == 400

    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(body=st.binary(max_size=300))
    async def test_fuzzed_token_bodies(self, client: httpx.AsyncClient, body: bytes) -> None:
        """Arbitrary bytes at the token endpoint never produce a server error."""
        response = await client.post(
            "/oauth/token",
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code < 500
