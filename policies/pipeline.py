"""The request pipeline: ordered policies, request phases forward, response phases in reverse.

Modelled on Envoy's filter chain and Kong's phases: each `Policy` may take part in
`on_request` (may reject by raising a `ProblemError`) and `on_response` (always runs for
the policies whose request phase ran, and for "always" policies such as audit, even
when an earlier stage rejected the request).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from policies.catalog import Product
from policies.errors import ProblemError


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
class RequestContext:
    """One request as the pipeline sees it; stages fill in what they establish."""

    product: Product
    method: str
    url: str
    headers: Mapping[str, str]
    request_id: str
    grant: AccessGrant | None = None
    consent: ConsentView | None = None
    error: ProblemError | None = None
    status: int | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)


class Policy(Protocol):
    """A pipeline stage. Either phase may be a no-op."""

    name: str

    async def on_request(self, ctx: RequestContext) -> None: ...

    async def on_response(self, ctx: RequestContext) -> None: ...


class BasePolicy:
    """Convenience base: both phases do nothing."""

    name = "policy"

    async def on_request(self, ctx: RequestContext) -> None:
        return None

    async def on_response(self, ctx: RequestContext) -> None:
        return None


class Pipeline:
    """Runs policies in their declared order."""

    def __init__(self, policies: Sequence[Policy]) -> None:
        self.policies = tuple(policies)

    async def run_request(self, ctx: RequestContext) -> None:
        """Run every request phase; the first rejection stops the chain and is re-raised."""
        ran: list[Policy] = []
        ctx.attributes["_ran"] = ran
        for policy in self.policies:
            ran.append(policy)
            try:
                await policy.on_request(ctx)
            except ProblemError as error:
                ctx.error = error
                raise

    async def run_response(self, ctx: RequestContext) -> None:
        """Run the response phases in reverse order of the request phases that ran."""
        ran: list[Policy] = ctx.attributes.get("_ran", [])
        for policy in reversed(ran):
            await policy.on_response(ctx)
