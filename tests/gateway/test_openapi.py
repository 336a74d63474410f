"""The OpenAPI document: complete for every operation, valid, and changed only on purpose."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from tests.factories import pushed_request, sandbox_partner

SNAPSHOT = Path(__file__).with_name("openapi.snapshot.json")
PROBLEM_REF = "#/components/schemas/Problem"


@pytest.fixture
async def spec(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
    ]


@pytest.mark.parametrize("backend", ["sqlite"])
class TestOpenApiDocument:
    async def test_is_valid_openapi_3_1(self, spec: dict[str, Any]) -> None:
        """The document validates against the OpenAPI 3.1 specification."""
        assert spec["openapi"].startswith("3.1")
        validate(spec)

    async def test_every_operation_is_complete(self, spec: dict[str, Any]) -> None:
        """Each operation has a description, an API product and level, security, a success
        response with a schema and an example, documented problems and the id headers."""
        found = operations(spec)
        assert len(found) >= 20
        for method, path, op in found:
            where = f"{method} {path}"
            assert op.get("description"), where
            assert op.get("summary"), where
            assert op["x-security-level"] in ("A1", "A2"), where
            assert "security" in op, where
            successes = {k: v for k, v in op["responses"].items() if k.startswith("2")}
            assert successes, where
            for status, response in successes.items():
                if status == "204":
                    continue
                media = next(iter(response["content"].values()))
                assert "schema" in media, where
                assert "example" in media, where
            problems = {k: v for k, v in op["responses"].items() if k[0] in "45"}
            assert "500" in problems, where
            for status, response in problems.items():
                content = response["content"]
                schema = next(iter(content.values()))["schema"]["$ref"]
                assert schema.endswith(("/Problem", "/OAuthProblem", "/Readiness")), where
                if schema.endswith("/Problem"):
                    assert "application/problem+json" in content, where
                    example = content["application/problem+json"]["example"]
                    assert example["status"] == int(status), where
            for response in op["responses"].values():
                assert set(response["headers"]) >= {"X-Request-ID", "x-fapi-interaction-id"}, where

    async def test_no_framework_validation_shape(self, spec: dict[str, Any]) -> None:
        """FastAPI's own 422 shape, which the gateway never sends, is not described."""
        text = json.dumps(spec)
        assert "HTTPValidationError" not in text
        assert '"ValidationError"' not in text

    async def test_security_follows_the_product(self, spec: dict[str, Any]) -> None:
        """Customer data needs its customer scope; public routes need nothing; the OAuth
        endpoints authenticate the client (Basic or in the body)."""
        by_op = {(m, p): op for m, p, op in operations(spec)}
        balances = by_op[("GET", "/v1/accounts/{account_id}/balances")]
        assert {"oauth2": ["accounts"]} in balances["security"]
        assert {"dpop": ["accounts"]} in balances["security"]
        assert by_op[("GET", "/healthz")]["security"] == []
        assert by_op[("POST", "/oauth/token")]["security"] == [{"clientSecretBasic": []}, {}]
        schemes = spec["components"]["securitySchemes"]
        assert schemes["oauth2"]["flows"]["clientCredentials"]["tokenUrl"].endswith("/oauth/token")
        assert schemes["dpop"] == {**schemes["dpop"], "type": "http", "scheme": "DPoP"}

    async def test_oauth_forms_are_documented(self, spec: dict[str, Any]) -> None:
        """The OAuth endpoints describe their form bodies."""
        for path in ("/oauth/token", "/oauth/par", "/oauth/revoke", "/oauth/introspect"):
            body = spec["paths"][path]["post"]["requestBody"]
            assert "application/x-www-form-urlencoded" in body["content"], path
        token_form = spec["components"]["schemas"]["TokenRequest"]
        assert set(token_form["properties"]["grant_type"]["enum"]) == {
            "client_credentials",
            "authorization_code",
            "refresh_token",
        }

    async def test_security_levels_come_from_the_catalogue(self, spec: dict[str, Any]) -> None:
        """Each operation names its API product and JR/T 0185 level from the catalogue."""
        levels = {op["x-api-product"]: op["x-security-level"] for _, _, op in operations(spec)}
        assert levels["accounts.balances.read"] == "A2"
        assert levels["products.deposits.read"] == "A1"

    async def test_sandbox_accounts_are_limited_as_a_list(
        self, spec: dict[str, Any], client: httpx.AsyncClient
    ) -> None:
        """`accounts` ("all" or a list of ids) limits the list to 50 items (`maxItems`) and
        each id to 64 characters, not the length of a string; 51 ids are a 422 naming
        `accounts`, while fewer are not refused for their number."""
        accounts = spec["components"]["schemas"]["AuthorizeRequest"]["properties"]["accounts"]
        assert "maxLength" not in accounts
        string, array = accounts["anyOf"]
        assert string == {"const": "all", "type": "string"}
        assert array["maxItems"] == 50
        assert array["items"]["maxLength"] == 64
        partner = await sandbox_partner(client)
        request_uri, _ = await pushed_request(client, partner)
        body = {"request_uri": request_uri, "customer": "zhang.wei"}
        refused = await client.post(
            "/sandbox/authorize", json={**body, "accounts": ["acc_x"] * 51}, auth=partner.basic
        )
        assert refused.status_code == 422, refused.text
        errors = refused.json()["errors"]
        assert {e["path"] for e in errors} == {"accounts"}
        assert "This must have at most 50 items." in [e["message"] for e in errors]
        counted = await client.post(
            "/sandbox/authorize", json={**body, "accounts": ["acc_x"] * 50}, auth=partner.basic
        )
        assert counted.status_code == 422
        assert [e["message"] for e in counted.json()["errors"]] == [
            "An account that is not the customer's was selected."
        ]

    async def test_matches_the_snapshot(self, spec: dict[str, Any]) -> None:
        """The document changes only on purpose: regenerate the snapshot with
        OBGW_UPDATE_SNAPSHOTS=1 and review the diff."""
        rendered = json.dumps(spec, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        if os.environ.get("OBGW_UPDATE_SNAPSHOTS") == "1":
            SNAPSHOT.write_text(rendered, encoding="utf-8")
        assert rendered == SNAPSHOT.read_text(encoding="utf-8")
