"""The gateway's side of the sandbox routes: sign-up, test customers, browserless consent."""

from __future__ import annotations

import time
from collections import deque

from fastapi import Request

from gateway.errors import InvalidRequestError, RateLimitedError
from gateway.oauth.requests import OAuthError
from gateway.partners.models import RegistryError
from gateway.services import Services
from policies.pipeline import Exchange
from policies.vocabulary import CUSTOMER_SCOPES, PARTNER_SCOPES
from sandbox.core import ONE_TIME_CODE, TEST_PASSWORD, SandboxCore
from sandbox.router import AuthorizeRequest, SignupRequest, SignupResponse, TestCustomer

DEFAULT_REDIRECT_URI = "http://127.0.0.1/callback"
SIGNUPS_PER_HOUR = 10


class GatewaySandboxPort:
    """Implements `sandbox.router.SandboxPort` on the gateway's services."""

    def __init__(self, services: Services, bank: SandboxCore) -> None:
        self.services = services
        self.bank = bank
        self._signups: dict[str, deque[float]] = {}

    async def caller(self, request: Request) -> tuple[str, str]:
        exchange: Exchange = request.scope["state"]["exchange"]
        caller = exchange.caller
        assert caller is not None, "sandbox products authenticate their caller"
        assert caller.partner_id is not None, "only partner clients hold sandbox credentials"
        return caller.client_id, caller.partner_id

    def _limit_signups(self, address: str) -> None:
        now = time.monotonic()
        window = self._signups.setdefault(address, deque())
        while window and window[0] < now - 3600:
            window.popleft()
        if len(window) >= SIGNUPS_PER_HOUR:
            retry = int(window[0] + 3600 - now) + 1
            raise RateLimitedError(
                f"at most {SIGNUPS_PER_HOUR} sign-ups per hour from one address",
                headers={"Retry-After": str(retry)},
            )
        window.append(now)

    async def signup(self, request: Request, body: SignupRequest) -> SignupResponse:
        self._limit_signups(request.client.host if request.client else "unknown")
        registry = self.services.registry
        partner = await registry.create_partner(
            body.partner_name, body.sector, contact_email=body.contact_email
        )
        redirect_uris = body.redirect_uris or [DEFAULT_REDIRECT_URI]
        try:
            issued = await registry.create_client(
                partner_id=partner.id,
                scopes=[*PARTNER_SCOPES, *CUSTOMER_SCOPES],
                redirect_uris=redirect_uris,
                name=f"{body.partner_name} sandbox",
            )
        except RegistryError as exc:
            raise InvalidRequestError(exc.message) from None
        assert issued.client_secret is not None
        issuer = self.services.settings.issuer
        return {
            "partner_id": partner.id,
            "client_id": issued.client.client_id,
            "client_secret": issued.client_secret,
            "token_endpoint_auth_method": issued.client.auth_method,
            "scopes": list(issued.client.scopes),
            "redirect_uris": redirect_uris,
            "issuer": issuer,
            "token_endpoint": f"{issuer}/oauth/token",
            "customers": self.customers(partner.id),
        }

    async def authorize(self, client_id: str, partner_id: str, body: AuthorizeRequest) -> str:
        flow = self.services.flow
        try:
            pushed = await flow.pending(client_id, body.request_uri)
            customer = None
            if self.services.customer_auth is not None:
                ctx = self.services.core.context(partner_id)
                customer = await self.services.customer_auth.find(ctx, body.customer)
            if customer is None:
                raise OAuthError("invalid_request", f"no test customer '{body.customer}'")
            if body.decision == "deny":
                return (await flow.deny(pushed)).redirect_to
            selected = None if body.accounts == "all" else list(body.accounts)
            return (await flow.approve(pushed, partner_id, customer, selected)).redirect_to
        except OAuthError as exc:
            raise InvalidRequestError(exc.description) from None

    def customers(self, partner_id: str) -> list[TestCustomer]:
        return [
            {
                "username": c.username,
                "name": c.full_name,
                "risk_tolerance": c.risk_tolerance,
                "kyc_status": c.kyc_status,
                "password": TEST_PASSWORD,
                "one_time_code": ONE_TIME_CODE,
            }
            for c in self.bank.list_customers(partner_id)
        ]
