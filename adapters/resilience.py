"""Guarding any adapter: deadlines, a circuit breaker, a bulkhead and a span per core call.

`CoreClient` is what the gateway holds instead of the raw adapter. It checks at start-up that
the adapter implements the protocol of every capability it declares, and hands out one guarded
port per capability (`core.accounts`, `core.customers`, ...); an undeclared capability raises
`CapabilityNotSupported`. Every call through a port:

- refuses at once with `CoreUnavailable` while the breaker is open;
- waits for a slot of the bulkhead (at most `max_concurrency` calls in flight);
- ends by the context's deadline (`CoreTimeout`);
- records a span `core <capability>.<operation>` when the request is traced.

Timeouts and unavailability count toward the breaker; business refusals do not.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, cast

from opentelemetry import trace
from opentelemetry.trace import Span, StatusCode

from adapters.contract import (
    PORTS,
    AccountsCore,
    Capability,
    CapabilityNotSupported,
    CoreAdapter,
    CoreContext,
    CoreError,
    CoreHealth,
    CoreTimeout,
    CoreUnavailable,
    CustomersCore,
    DepositsCore,
    LoansCore,
    PaymentsCore,
    WealthCore,
)


class CallRecorder(Protocol):
    """Where core-call measurements go (the gateway's metrics)."""

    def core_call(self, operation: str, outcome: str, seconds: float) -> None: ...


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; after `cool_down` s lets one call try."""

    def __init__(self, threshold: int = 5, cool_down: float = 10.0) -> None:
        self.threshold = threshold
        self.cool_down = cool_down
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if time.monotonic() - self._opened_at >= self.cool_down:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def retry_after(self) -> int:
        if self._opened_at is None:
            return 1
        return max(int(self._opened_at + self.cool_down - time.monotonic()) + 1, 1)

    def admit(self) -> None:
        """Raise `CoreUnavailable` unless a call may go to the core now."""
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and not self._trial:
            self._trial = True  # one trial call; the others keep failing fast
            return
        raise CoreUnavailable("the core's circuit breaker is open", self.retry_after())

    def succeeded(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial = False

    def failed(self) -> None:
        self._failures += 1
        if self._trial or self._failures >= self.threshold:
            self._opened_at = time.monotonic()
        self._trial = False


@dataclass(frozen=True, slots=True)
class CoreStatus:
    """The core's health as `/readyz` reports it."""

    name: str
    health: CoreHealth
    breaker: BreakerState


class CoreClient:
    """The guarded handle on one adapter (see the module docstring)."""

    def __init__(
        self,
        adapter: CoreAdapter,
        *,
        timeout: float = 5.0,
        max_concurrency: int = 64,
        breaker: CircuitBreaker | None = None,
        tracer: trace.Tracer | None = None,
        recorder: CallRecorder | None = None,
    ) -> None:
        self.adapter = adapter
        self.name = adapter.name
        self.timeout = timeout
        self.breaker = breaker or CircuitBreaker()
        self._bulkhead = asyncio.Semaphore(max_concurrency)
        self._tracer = tracer or trace.get_tracer("obgw.core")
        self._recorder = recorder
        self._declared = adapter.capabilities()
        missing = [
            c.value for c in self._declared if c in PORTS and not isinstance(adapter, PORTS[c])
        ]
        unknown = [c.value for c in self._declared if c not in PORTS]
        if missing or unknown:
            raise TypeError(
                f"core adapter {adapter.name!r} declares capabilities it does not implement: "
                f"{', '.join(missing + unknown)}"
            )
        self._ports = {c: _Port(self, c, PORTS[c]) for c in self._declared}

    def capabilities(self) -> frozenset[Capability]:
        return self._declared

    def context(
        self, partner_id: str, *, request_id: str = "", idempotency_key: str | None = None
    ) -> CoreContext:
        """A context for a call made now, with this client's timeout as its deadline."""
        return CoreContext.within(
            partner_id, self.timeout, request_id=request_id, idempotency_key=idempotency_key
        )

    def _port(self, capability: Capability) -> _Port:
        port = self._ports.get(capability)
        if port is None:
            raise CapabilityNotSupported(capability)
        return port

    @property
    def customers(self) -> CustomersCore:
        return cast(CustomersCore, self._port(Capability.CUSTOMERS))

    @property
    def accounts(self) -> AccountsCore:
        return cast(AccountsCore, self._port(Capability.ACCOUNTS))

    @property
    def payments(self) -> PaymentsCore:
        return cast(PaymentsCore, self._port(Capability.PAYMENTS))

    @property
    def deposits(self) -> DepositsCore:
        return cast(DepositsCore, self._port(Capability.DEPOSITS))

    @property
    def loans(self) -> LoansCore:
        return cast(LoansCore, self._port(Capability.LOANS))

    @property
    def wealth(self) -> WealthCore:
        return cast(WealthCore, self._port(Capability.WEALTH))

    async def status(self) -> CoreStatus:
        """The adapter's own health (bounded by the timeout) and the breaker's state."""
        try:
            async with asyncio.timeout(self.timeout):
                health = await self.adapter.health()
        except TimeoutError:
            health = CoreHealth(False, "the health check timed out")
        except Exception as exc:
            health = CoreHealth(False, type(exc).__name__)
        return CoreStatus(self.name, health, self.breaker.state)

    async def aclose(self) -> None:
        await self.adapter.aclose()

    async def call(
        self,
        name: str,
        method: Callable[..., Awaitable[Any]],
        ctx: CoreContext,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """One guarded call of `method(ctx, *args, **kwargs)`, named `capability.operation`."""
        self.breaker.admit()
        started = time.perf_counter()
        span = (
            self._tracer.start_span(f"core {name}")
            if trace.get_current_span().is_recording()
            else None
        )
        outcome = "ok"
        try:
            attempt = (
                method(ctx, *args, **kwargs)
                if self.adapter.in_process
                else self._bounded(method, ctx, args, kwargs)
            )
            if span is None:
                result = await attempt
            else:
                span.set_attributes({"obgw.core": self.name, "obgw.core.operation": name})
                with trace.use_span(span, end_on_exit=False):
                    result = await attempt
        except TimeoutError:
            outcome = CoreTimeout.__name__
            self._failed(span, outcome)
            raise CoreTimeout("the core did not answer in time") from None
        except (CoreTimeout, CoreUnavailable) as exc:
            outcome = type(exc).__name__
            self._failed(span, outcome)
            raise
        except CoreError as exc:
            outcome = type(exc).__name__
            self.breaker.succeeded()  # a business refusal: the core is up and answering
            raise
        else:
            self.breaker.succeeded()
            return result
        finally:
            if span is not None:
                span.end()
            if self._recorder is not None:
                self._recorder.core_call(name, outcome, time.perf_counter() - started)

    def _failed(self, span: Span | None, outcome: str) -> None:
        self.breaker.failed()
        if span is not None:
            span.set_status(StatusCode.ERROR, outcome)

    async def _bounded(
        self,
        method: Callable[..., Awaitable[Any]],
        ctx: CoreContext,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """A call that waits on I/O: within the bulkhead, ended at the deadline."""
        remaining = ctx.remaining()
        async with self._bulkhead:
            if remaining is None:
                return await method(ctx, *args, **kwargs)
            async with asyncio.timeout(remaining):
                return await method(ctx, *args, **kwargs)


class _Port:
    """One capability's protocol on a `CoreClient`: each method, guarded."""

    def __init__(self, client: CoreClient, capability: Capability, protocol: type) -> None:
        for operation in _operations(protocol):
            method = getattr(client.adapter, operation)
            setattr(self, operation, _guarded(client, f"{capability.value}.{operation}", method))


def _operations(protocol: type) -> list[str]:
    return [n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_")]


def _guarded(
    client: CoreClient, name: str, method: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[Any]]:
    async def call(ctx: CoreContext, *args: Any, **kwargs: Any) -> Any:
        return await client.call(name, method, ctx, args, kwargs)

    call.__name__ = method.__name__
    return call
