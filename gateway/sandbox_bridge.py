"""The gateway's side of the sandbox routes: who is calling, sign-up, browserless consent."""

from __future__ import annotations

import base64
import binascii
import time
from collections import deque
from typing import Any

from fastapi import Request

from gateway.deps import external_url
from gateway.errors import InvalidRequestError, InvalidTokenError, RateLimitedError
from gateway.oauth.authorize import find_customer
from gateway.oauth.requests import OAuthError
from gateway.registry import CUSTOMER_SCOPES, PARTNER_SCOPES, RegistryError
from gateway.services import Services
from policies.authentication import AuthenticationPolicy
from policies.pipeline import RequestContext
from sandbox.router import AuthorizeRequest, SignupRequest

DEFAULT_REDIRECT_URI = "http://127.0.0.1/callback"
SIGNUPS_PER_HOUR = 10


class GatewaySandboxPort:
    """Implements `sandbox.router.SandboxPort` on the gateway's services."""

    def __init__(self, services: Services, authentication: AuthenticationPolicy) -> None:
        self.services = services
        self.authentication = authentication
        self._signups: dict[str, deque[float]] = {}

    async def authenticate(self, request: Request) -> tuple[str, str]:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            return await self._basic(value.strip())
        ctx = RequestContext(
            product=self.services.catalog.product("capabilities.read"),
            method=request.method,
            url=external_url(self.services, request),
            headers=request.headers,
            request_id=request.state.request_id,
        )
        await self.authentication.on_request(ctx)
        assert ctx.grant is not None
        return ctx.grant.client_id, ctx.grant.partner_id

    async def _basic(self, value: str) -> tuple[str, str]:
        unauthorized = InvalidTokenError(
            "authenticate with the sandbox client's id and secret (HTTP Basic) or a token",
            scheme="Basic",
        )
        try:
            client_id, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise unauthorized from None
        client = await self.services.registry.active_client(client_id)
        if client is None or client.partner_id is None or not client.check_secret(secret):
            raise unauthorized
        return client.client_id, client.partner_id

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

    async def signup(self, request: Request, body: SignupRequest) -> dict[str, Any]:
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
            raise InvalidRequestError(str(exc)) from None
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
        directory = self.services.customers
        try:
            pushed = await flow.pending(client_id, body.request_uri)
            customer = find_customer(directory, partner_id, body.customer) if directory else None
            if customer is None:
                raise OAuthError("invalid_request", f"no test customer '{body.customer}'")
            if body.decision == "deny":
                return (await flow.deny(pushed)).redirect_to
            selected = None if body.accounts == "all" else list(body.accounts)
            return (await flow.approve(pushed, partner_id, customer, selected)).redirect_to
        except OAuthError as exc:
            raise InvalidRequestError(exc.description) from None

    def customers(self, partner_id: str) -> list[dict[str, Any]]:
        directory = self.services.customers
        if directory is None:
            return []
        return [
            {
                "username": c.username,
                "name": c.full_name,
                "risk_tolerance": c.risk_tolerance,
                "kyc_status": c.kyc_status,
                "password": "sandbox",
                "one_time_code": "123456",
            }
            for c in directory.list_customers(partner_id)
        ]
