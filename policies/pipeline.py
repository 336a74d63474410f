"""The request pipeline: ordered stages around every request, like Envoy's filter chain.

    request  ─▶ stage 1 ─▶ stage 2 ─▶ … ─▶ route
    response ◀─ stage 1 ◀─ stage 2 ◀─ … ◀─┘

A stage takes part in two phases (Kong's `access` and `log`):

- `on_request(exchange)` runs before the body is parsed. It passes (returns None), rejects by
  raising a `ProblemError`, or answers the request itself by returning an `Outcome` (an
  idempotent replay). It may read the body with `await exchange.body()`.
- `on_response(exchange)` sees the final `exchange.outcome` — status, headers and body — of
  every request: the route's answer, a rejection, a stage's own answer, an unhandled error
  (500) or a client that went away (499). It runs for every stage whose request phase ran, in
  reverse order, so stages placed first (request log, audit) see every outcome.

The pipeline is transport-free: the gateway's ASGI host builds the `Exchange`, hands the route
in as a callable and sends the `Outcome`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import orjson
import structlog
from starlette.datastructures import Headers

from policies.catalog import Product
from policies.errors import InternalError, ProblemError

if TYPE_CHECKING:
    from policies.idempotency import IdempotencyClaim

log = structlog.get_logger("obgw.pipeline")

DISCONNECTED = 499  # nginx's status for a client that closed the connection first


class ClientDisconnected(Exception):
    """The client went away before the request could be answered."""


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """What a verified access token grants its bearer."""

    token_id: str
    client_id: str
    partner_id: str
    subject: str
    scopes: frozenset[str]
    expires_at: int
    consent_id: str | None = None
    jkt: str | None = None
    token_hash: str | None = None  # a DPoP proof's `ath` for this token, when it is bound


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated OAuth client behind a request (by token or by client credentials)."""

    client_id: str
    partner_id: str | None


@dataclass(frozen=True, slots=True)
class ConsentView:
    """The parts of a consent the pipeline checks, with the customer's selected accounts."""

    id: str
    partner_id: str
    client_id: str
    type: str
    status: str
    permissions: frozenset[str]
    expires_at: float | None
    customer_ref: str | None
    psu_id: str | None
    accounts: Mapping[str, str]  # partner-facing account id -> core account ref


@dataclass(slots=True)
class Outcome:
    """A complete HTTP response: what the route, a rejection or a stage answered."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""

    @classmethod
    def json(
        cls,
        status: int,
        document: object,
        *,
        media_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> Outcome:
        body = orjson.dumps(document)
        raw = [(b"content-type", media_type.encode()), (b"content-length", b"%d" % len(body))]
        raw += [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()
        ]
        return cls(status, raw, body)

    def header(self, name: str) -> str | None:
        """The first value of header `name` (lower-case), if any."""
        wanted = name.encode("latin-1")
        for key, value in self.headers:
            if key == wanted:
                return value.decode("latin-1")
        return None


BodyReader = Callable[[], Awaitable[bytes]]


async def _no_body() -> bytes:
    return b""


@dataclass(slots=True, eq=False)
class Exchange:
    """One request as the pipeline sees it; stages record what they establish.

    `product`, `route` and `url` come from the route table and the issuer; `url` is the URL
    the partner called on the issuer's origin (what a DPoP proof's `htu` must match).
    """

    product: Product
    route: str
    method: str
    url: str
    headers: Headers
    request_id: str
    client_address: str = ""
    started_at: float = field(default_factory=time.perf_counter)
    caller: Caller | None = None
    grant: AccessGrant | None = None
    consent: ConsentView | None = None
    idempotency: IdempotencyClaim | None = None
    error: ProblemError | None = None
    outcome: Outcome | None = None
    trace_id: str | None = None
    is_traced: bool = False
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    read_body: BodyReader = _no_body
    _body: bytes | None = None

    async def body(self) -> bytes:
        """The request body, read once on first use (the route then sees the same bytes)."""
        if self._body is None:
            self._body = await self.read_body()
        return self._body

    @property
    def status(self) -> int | None:
        return self.outcome.status if self.outcome is not None else None

    @property
    def partner_id(self) -> str | None:
        return self.caller.partner_id if self.caller is not None else None

    @property
    def client_id(self) -> str | None:
        return self.caller.client_id if self.caller is not None else None

    @property
    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started_at) * 1000


class Stage(Protocol):
    """A pipeline stage. Either phase may be a no-op (see `BaseStage`)."""

    name: str

    async def on_request(self, exchange: Exchange) -> Outcome | None: ...

    async def on_response(self, exchange: Exchange) -> None: ...


class BaseStage:
    """Convenience base: both phases do nothing."""

    name = "stage"

    async def on_request(self, exchange: Exchange) -> Outcome | None:
        return None

    async def on_response(self, exchange: Exchange) -> None:
        return None


Route = Callable[[Exchange], Awaitable[Outcome]]
Render = Callable[[Exchange, ProblemError], Outcome]
SpanFactory = Callable[[str], AbstractContextManager[object]]


def _no_span(name: str) -> AbstractContextManager[object]:
    return nullcontext()


def _overrides(stage: Stage, phase: str) -> bool:
    return getattr(type(stage), phase, None) is not getattr(BaseStage, phase)


@dataclass(frozen=True, slots=True)
class _Phase:
    """One stage's part in one phase: None when the stage does nothing there."""

    stage: Stage
    call: Callable[[Exchange], Awaitable[Outcome | None]] | None
    span_name: str


class Pipeline:
    """Runs stages in their declared order around a route.

    `span(name)` opens a tracing span around each phase of a traced exchange; `render` turns a
    rejection into the problem response the client gets.
    """

    def __init__(self, stages: Sequence[Stage], *, span: SpanFactory = _no_span) -> None:
        self.span = span
        self.stages = tuple(stages)

    @property
    def stages(self) -> tuple[Stage, ...]:
        return self._stages

    @stages.setter
    def stages(self, stages: Sequence[Stage]) -> None:
        # Resolved once: each request then skips the phases a stage does not take part in.
        self._stages = tuple(stages)
        self._requests = [
            _Phase(s, s.on_request if _overrides(s, "on_request") else None, f"stage {s.name}")
            for s in self._stages
        ]
        self._responses = [
            _Phase(
                s,
                s.on_response if _overrides(s, "on_response") else None,
                f"stage {s.name} response",
            )
            for s in self._stages
        ]

    def stage(self, name: str) -> Stage:
        """The stage called `name` (for wiring and tests)."""
        return next(s for s in self._stages if s.name == name)

    async def run(self, exchange: Exchange, route: Route, render: Render) -> Outcome:
        """The outcome of `exchange`, with every due response phase run.

        If the request's task is cancelled (a server that cancels on disconnect), the response
        phases still run to completion, shielded, before the cancellation goes on.
        """
        ran = 0
        outcome: Outcome | None = None
        traced = exchange.is_traced
        try:
            try:
                for phase in self._requests:
                    ran += 1
                    if phase.call is None:
                        continue
                    if traced:
                        with self.span(phase.span_name):
                            outcome = await phase.call(exchange)
                    else:
                        outcome = await phase.call(exchange)
                    if outcome is not None:
                        break
            except ProblemError as error:
                exchange.error = error
                outcome = render(exchange, error)
            except ClientDisconnected:
                outcome = Outcome(DISCONNECTED, [])
            except Exception:
                log.exception("stage_failed", stage=self._stages[ran - 1].name)
                exchange.error = InternalError()
                outcome = render(exchange, exchange.error)
            if outcome is None:
                outcome = await route(exchange)
        except asyncio.CancelledError:
            exchange.outcome = Outcome(DISCONNECTED, [])
            await asyncio.shield(self._respond(exchange, ran, render))
            raise
        exchange.outcome = outcome
        await self._respond(exchange, ran, render)
        return exchange.outcome

    async def _respond(self, exchange: Exchange, ran: int, render: Render) -> None:
        """The response phases of the first `ran` stages, last first."""
        traced = exchange.is_traced
        for phase in reversed(self._responses[:ran]):
            if phase.call is None:
                continue
            try:
                if traced:
                    with self.span(phase.span_name):
                        await phase.call(exchange)
                else:
                    await phase.call(exchange)
            except Exception as exc:
                # A response phase that fails (an audit write, say) must not let the original
                # answer through: the client learns that the request did not complete.
                if isinstance(exc, ProblemError):
                    exchange.error = exc
                else:
                    log.exception("stage_response_failed", stage=phase.stage.name)
                    exchange.error = InternalError()
                exchange.outcome = render(exchange, exchange.error)
