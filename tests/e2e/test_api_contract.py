"""The running gateway against its own OpenAPI document, fuzzed with real credentials.

Schemathesis generates requests for every operation from `/openapi.json` (fixed seed), sends
them to a live server with a partner token, a customer token, an operations token or client
credentials as each operation's security asks, and checks every answer: no `5xx`, a documented
status and content type, a body that matches its schema, the documented headers.
"""

from __future__ import annotations

import asyncio
import base64
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.app import create_app
from gateway.cli import _registry
from gateway.storage.database import Database
from policies.vocabulary import CUSTOMER_SCOPES, OPS_SCOPES
from tests.conftest import LiveServer, free_port, make_settings
from tests.factories import Partner, customer_grant, partner_token, sandbox_partner

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]


@dataclass
class Credentials:
    partner: Partner
    partner_token: str
    customer_token: str
    ops_token: str

    def headers_for(self, security: list[dict[str, list[str]]]) -> dict[str, str]:
        """The credentials an operation's first security alternative asks for."""
        if not security:
            return {}
        scopes = {s for alternative in security for s in alternative.get("oauth2", [])}
        if any("oauth2" in alternative for alternative in security):
            if scopes & set(CUSTOMER_SCOPES):
                return {"Authorization": f"Bearer {self.customer_token}"}
            if scopes & set(OPS_SCOPES):
                return {"Authorization": f"Bearer {self.ops_token}"}
            return {"Authorization": f"Bearer {self.partner_token}"}
        basic = f"{self.partner.client_id}:{self.partner.client_secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(basic).decode()}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp: Path = tmp_path_factory.mktemp("contract")
    settings_ = make_settings(tmp, issuer=f"http://127.0.0.1:{free_port()}", access_token_ttl=3600)
    with LiveServer(settings_) as server:
        yield server


@pytest.fixture(scope="module")
def credentials(live: LiveServer) -> Credentials:
    async def obtain() -> Credentials:
        async with httpx.AsyncClient(base_url=live.url) as http:
            partner = await sandbox_partner(http, "契约测试学校")
            token = await partner_token(http, partner, "products consents collections events")
            grant = await customer_grant(
                http,
                partner,
                dpop=False,
                permissions=["ReadAccountsBasic", "ReadAccountsDetail", "ReadBalances"],
            )
            db = Database(live.settings.database_url)
            try:
                ops = await _registry(db).create_client(
                    partner_id=None, scopes=list(OPS_SCOPES), kind="ops", name="ops"
                )
            finally:
                await db.dispose()
            assert ops.client_secret is not None
            issued = await http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials", "scope": "ops:read"},
                auth=(ops.client.client_id, ops.client_secret),
            )
            assert issued.status_code == 200, issued.text
            return Credentials(partner, token, grant.access_token, issued.json()["access_token"])

    return asyncio.run(obtain())


@pytest.fixture(scope="module")
def api_schema(live: LiveServer) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{live.url}/openapi.json")


def _cases() -> list[tuple[str, str, GenerationMode]]:
    """Every documented (method, path), with valid inputs and, where it takes any, invalid."""
    with tempfile.TemporaryDirectory() as tmp:
        document = create_app(make_settings(Path(tmp))).openapi()
    cases = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            cases.append((method.upper(), path, GenerationMode.POSITIVE))
            if operation.get("parameters") or operation.get("requestBody"):
                cases.append((method.upper(), path, GenerationMode.NEGATIVE))
    return cases


@pytest.mark.parametrize(("method", "path", "mode"), _cases())
def test_every_operation_keeps_its_contract(
    api_schema: schemathesis.BaseSchema,
    credentials: Credentials,
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    """Generated requests, valid and invalid, never get a 5xx, an undocumented answer or a
    body off its schema; invalid ones are refused."""
    operation = api_schema[path][method]
    headers = credentials.headers_for(operation.definition.raw.get("security", []))

    @settings(
        max_examples=40,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode))
    def exchange(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    exchange()
