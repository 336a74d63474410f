"""Traces and the request log: an operator can follow one request from partner to core."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from tests.conftest import make_settings
from tests.factories import (
    customer_grant,
    customer_headers,
    json_lines,
    ops_token,
    partner_token,
    sandbox_partner,
    services_of,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"


def traceparent(trace_id: str = TRACE_ID, sampled: bool = True) -> str:
    return f"00-{trace_id}-{PARENT_SPAN}-{'01' if sampled else '00'}"


@pytest.fixture
async def logged(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The gateway logging at INFO (the request log) into `capfd`, with a client."""
    settings = make_settings(tmp_path, trace_sample_ratio=0.0)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=settings.issuer) as http:
            yield app, http


class TestTraces:
    async def test_a_traced_request_shows_its_stages_and_core_call_in_order(
        self, logged: tuple[FastAPI, httpx.AsyncClient], capfd: pytest.CaptureFixture[str]
    ) -> None:
        """A request with a sampled traceparent is at /ops/traces/{id}: stages and core as
        children of the server span, in order; its request log line has the same trace id."""
        app, client = logged
        partner = await sandbox_partner(client)
        grant = await customer_grant(client, partner)
        account_id = (
            await client.get(
                "/v1/accounts", headers=customer_headers(client, grant, "GET", "/v1/accounts")
            )
        ).json()["data"][0]["account_id"]
        path = f"/v1/accounts/{account_id}/balances"
        headers = {**customer_headers(client, grant, "GET", path), "traceparent": traceparent()}
        assert (await client.get(path, headers=headers)).status_code == 200

        ops = await ops_token(app, client)
        found = await client.get(
            f"/ops/traces/{TRACE_ID}", headers={"Authorization": f"Bearer {ops}"}
        )
        assert found.status_code == 200, found.text
        trace = found.json()
        spans = trace["spans"]
        server = spans[0]
        assert server["name"] == "GET /v1/accounts/{account_id}/balances"
        assert server["kind"] == "server"
        assert server["parent_span_id"] == PARENT_SPAN
        assert server["attributes"]["http.response.status_code"] == 200
        assert server["attributes"]["obgw.product"] == "accounts.balances.read"
        assert server["attributes"]["obgw.partner_id"] == partner.partner_id
        children = [s["name"] for s in spans[1:]]
        assert children == [
            "stage authentication",
            "stage scope",
            "stage idempotency",
            "stage consent",
            "core accounts.get_balances",
            "stage idempotency response",
            "stage metrics response",
            "stage request_log response",
        ]
        assert all(s["parent_span_id"] == server["span_id"] for s in spans[1:])
        offsets = [s["start_offset_ms"] for s in spans]
        assert offsets == sorted(offsets)
        assert trace["http_status"] == 200

        lines = [line for line in json_lines(capfd) if line["event"] == "request"]
        mine = [line for line in lines if line["trace_id"] == TRACE_ID]
        assert len(mine) == 1
        assert mine[0]["route"] == "/v1/accounts/{account_id}/balances"
        assert mine[0]["status"] == 200
        assert mine[0]["partner_id"] == partner.partner_id
        assert mine[0]["product"] == "accounts.balances.read"
        assert isinstance(mine[0]["latency_ms"], float)
        assert account_id not in str(trace) + str(mine)

    async def test_unsampled_requests_are_logged_not_kept(
        self, logged: tuple[FastAPI, httpx.AsyncClient], capfd: pytest.CaptureFixture[str]
    ) -> None:
        """A traceparent that is not sampled (and default sampling 0) keeps no trace, yet the
        request's log line still carries its trace id."""
        app, client = logged
        unsampled = "0af7651916cd43dd8448eb211c80319c"
        response = await client.get(
            "/healthz", headers={"traceparent": traceparent(unsampled, False)}
        )
        assert response.status_code == 200
        ops = await ops_token(app, client)
        missing = await client.get(
            f"/ops/traces/{unsampled}", headers={"Authorization": f"Bearer {ops}"}
        )
        assert missing.status_code == 404
        listed = await client.get("/ops/traces", headers={"Authorization": f"Bearer {ops}"})
        assert unsampled not in listed.text
        lines = json_lines(capfd)
        assert any(line.get("trace_id") == unsampled for line in lines)

    async def test_the_request_log_names_every_problem(
        self, logged: tuple[FastAPI, httpx.AsyncClient], capfd: pytest.CaptureFixture[str]
    ) -> None:
        """Problems rendered by a route's error handlers are named in the request log too."""
        _, client = logged
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "consents")
        invalid = await client.post(
            "/v1/consents",
            json={"type": "account_access", "permissions": []},
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "req-invalid-consent"},
        )
        assert invalid.status_code == 422
        valid = await client.post(
            "/v1/consents",
            json={"type": "account_access", "permissions": ["ReadBalances"]},
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "req-valid-consent"},
        )
        assert valid.status_code == 201
        lines = {line.get("request_id"): line for line in json_lines(capfd)}
        assert lines["req-invalid-consent"]["problem"] == "validation-failed"
        assert lines["req-valid-consent"]["problem"] is None

    async def test_the_request_log_names_oauth_refusals(
        self, logged: tuple[FastAPI, httpx.AsyncClient], capfd: pytest.CaptureFixture[str]
    ) -> None:
        """An OAuth endpoint's refusal is named in the request log like any other problem."""
        _, client = logged
        partner = await sandbox_partner(client)
        refused = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "scope": "consents"},
            auth=(partner.client_id, "not-the-secret"),
            headers={"X-Request-ID": "req-wrong-secret"},
        )
        assert refused.status_code == 401
        await partner_token(client, partner, "consents")
        lines = {line.get("request_id"): line for line in json_lines(capfd)}
        assert lines["req-wrong-secret"]["problem"] == refused.json()["code"]
        assert lines["req-wrong-secret"]["status"] == 401

    async def test_traces_are_for_operations_only(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """A partner token cannot read traces; an ops:read token can."""
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "products")
        refused = await client.get("/ops/traces", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 403
        ops = await ops_token(app, client)
        allowed = await client.get("/ops/traces", headers={"Authorization": f"Bearer {ops}"})
        assert allowed.status_code == 200


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        type(self).received.append((self.path, self.rfile.read(length)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """An OTLP/HTTP endpoint on loopback that keeps what it receives."""
    _Collector.received = []
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Collector.received
    finally:
        server.shutdown()


class TestOtlpExport:
    async def test_spans_go_to_the_collector(
        self, tmp_path: Path, collector: tuple[str, list[tuple[str, bytes]]]
    ) -> None:
        """With OBGW_OTLP_ENDPOINT set, sampled spans are exported by OTLP/HTTP."""
        endpoint, received = collector
        settings = make_settings(tmp_path, otlp_endpoint=endpoint, trace_sample_ratio=0.0)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=settings.issuer) as http:
                response = await http.get("/healthz", headers={"traceparent": traceparent()})
                assert response.status_code == 200
                assert services_of(app).tracing.store is None
        # Leaving the lifespan shut the provider down, which flushes the batch.
        assert received, "nothing reached the collector"
        path, payload = received[0]
        assert path == "/v1/traces"
        assert bytes.fromhex(TRACE_ID) in payload


class TestMetrics:
    async def test_requests_and_core_calls_are_counted(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """/metrics counts requests by product and status, and core calls by operation."""
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "products")
        auth = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/v1/products/deposits", headers=auth)).status_code == 200
        assert (await client.get("/v1/products/deposits")).status_code == 401
        scraped = await client.get("/metrics")
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain")
        text = scraped.text
        assert (
            'obgw_requests_total{method="GET",product="products.deposits.read",status="200"} 1.0'
            in text
        )
        assert 'product="products.deposits.read",status="401"} 1.0' in text
        assert (
            'obgw_core_calls_total{operation="deposits.list_deposit_products",outcome="ok"}' in text
        )
        assert 'obgw_core_breaker_state{core="sandbox"} 0.0' in text
        assert partner.partner_id not in text
