"""The guarded core client: declared capabilities, deadlines, the breaker, and readiness."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from adapters.contract import (
    Capability,
    CapabilityNotSupported,
    CoreContext,
    CoreHealth,
    CoreRejected,
    CoreTimeout,
    CoreUnavailable,
    Customer,
)
from adapters.resilience import BreakerState, CircuitBreaker, CoreClient
from tests.factories import partner_token, sandbox_partner, services_of

CUSTOMER = Customer("c/1", "li.na", "李娜", "李", "C1", "Verified")


class Customers:
    """A minimal adapter offering only the customers capability, with scripted behaviour."""

    name = "scripted"
    in_process = False

    def __init__(self, *, delay: float = 0.0, fail: type[Exception] | None = None) -> None:
        self.delay = delay
        self.fail = fail
        self.calls = 0
        self.is_up = True

    def capabilities(self) -> frozenset[Capability]:
        return frozenset({Capability.CUSTOMERS})

    async def get_customer(self, ctx: CoreContext, customer_ref: str) -> Customer:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.fail is CoreRejected:
            raise CoreRejected("account-frozen")
        if self.fail is not None:
            raise self.fail("the core is down")
        return CUSTOMER

    async def health(self) -> CoreHealth:
        return CoreHealth(self.is_up, "" if self.is_up else "connection refused")

    async def aclose(self) -> None:
        return None


class Pretender(Customers):
    """Declares accounts without implementing them."""

    def capabilities(self) -> frozenset[Capability]:
        return frozenset({Capability.CUSTOMERS, Capability.ACCOUNTS})


class TestCapabilities:
    def test_declared_capabilities_must_be_implemented(self) -> None:
        """An adapter declaring a capability it does not implement is refused at start-up."""
        CoreClient(Customers())
        with pytest.raises(TypeError, match="accounts"):
            CoreClient(Pretender())

    async def test_undeclared_capability_raises(self) -> None:
        """Asking for a capability the adapter lacks is CapabilityNotSupported."""
        client = CoreClient(Customers())
        assert await client.customers.get_customer(client.context("p"), "c/1") == CUSTOMER
        with pytest.raises(CapabilityNotSupported):
            _ = client.accounts

    @pytest.mark.parametrize("backend", ["sqlite"])
    async def test_undeclared_capability_is_a_501(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """Through the API, a capability the core lacks answers 501 capability-not-supported."""
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "products")
        services_of(app).core = CoreClient(Customers())
        response = await client.get(
            "/v1/products/deposits", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 501
        assert response.json()["code"] == "capability-not-supported"
        capabilities = await client.get(
            "/v1/capabilities", headers={"Authorization": f"Bearer {token}"}
        )
        assert capabilities.json()["capabilities"] == ["customers"]


class TestDeadlines:
    async def test_a_call_ends_at_the_deadline(self) -> None:
        """A core call still running at the context's deadline is a CoreTimeout, on time."""
        client = CoreClient(Customers(delay=5), timeout=0.05)
        started = time.monotonic()
        with pytest.raises(CoreTimeout):
            await client.customers.get_customer(client.context("p"), "c/1")
        assert time.monotonic() - started < 1.0
        fast = CoreClient(Customers(), timeout=0.05)
        assert await fast.customers.get_customer(fast.context("p"), "c/1") == CUSTOMER


class TestBreaker:
    async def test_opens_after_failures_and_fails_fast(self) -> None:
        """After `threshold` unavailable answers the breaker opens: calls fail without
        reaching the core, with a Retry-After; after the cool-down one trial may pass."""
        adapter = Customers(fail=CoreUnavailable)
        breaker = CircuitBreaker(threshold=3, cool_down=0.2)
        client = CoreClient(adapter, breaker=breaker)
        for _ in range(3):
            with pytest.raises(CoreUnavailable):
                await client.customers.get_customer(client.context("p"), "c/1")
        assert breaker.state is BreakerState.OPEN
        with pytest.raises(CoreUnavailable) as refused:
            await client.customers.get_customer(client.context("p"), "c/1")
        assert adapter.calls == 3
        assert refused.value.retry_after >= 1
        await asyncio.sleep(0.25)
        adapter.fail = None
        assert await client.customers.get_customer(client.context("p"), "c/1") == CUSTOMER
        assert breaker.state is BreakerState.CLOSED

    async def test_business_refusals_do_not_count(self) -> None:
        """A core that refuses (insufficient funds, frozen) is up: the breaker stays closed."""
        breaker = CircuitBreaker(threshold=2)
        client = CoreClient(Customers(fail=CoreRejected), breaker=breaker)
        for _ in range(5):
            with pytest.raises(CoreRejected):
                await client.customers.get_customer(client.context("p"), "c/1")
        assert breaker.state is BreakerState.CLOSED

    async def test_timeouts_count(self) -> None:
        """Timeouts count toward the breaker like unavailability."""
        breaker = CircuitBreaker(threshold=2)
        client = CoreClient(Customers(delay=1), timeout=0.01, breaker=breaker)
        for _ in range(2):
            with pytest.raises(CoreTimeout):
                await client.customers.get_customer(client.context("p"), "c/1")
        assert breaker.state is BreakerState.OPEN


class TestTracePropagation:
    def test_trace_headers_name_the_current_span(self) -> None:
        """Inside a span, a context gives W3C headers to send to a core reached by HTTP."""
        tracer = TracerProvider().get_tracer("test")
        ctx = CoreContext("p")
        assert ctx.trace_headers() == {}
        with tracer.start_as_current_span("core call") as span:
            headers: dict[str, Any] = ctx.trace_headers()
            trace_id = format(span.get_span_context().trace_id, "032x")
        assert headers["traceparent"].split("-")[1] == trace_id


@pytest.mark.parametrize("backend", ["sqlite"])
class TestReadiness:
    async def test_a_down_core_is_reported_not_made_unready(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """/readyz stays 200 when the core is down and its breaker open, and says so."""
        adapter = Customers()
        adapter.is_up = False
        core = CoreClient(adapter, breaker=CircuitBreaker(threshold=1))
        core.breaker.failed()
        services_of(app).core = core
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["core"] == {
            "name": "scripted",
            "status": "down",
            "breaker": "open",
            "detail": "connection refused",
        }
