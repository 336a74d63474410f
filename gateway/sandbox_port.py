"""The gateway's side of the sandbox routes: sign-up, test customers, browserless consent.

A sign-up is limited per client address (as the pipeline host resolved it) in a limiter
whose memory does not grow with sign-ups or addresses, is validated completely before
anything is written, and writes its partner and client in one unit of work.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from fastapi import Request
from starlette.responses import Response

from adapters.contract import Customer
from gateway.collections.bank_channel import pay_bill_at_bank
from gateway.errors import (
    FieldError,
    InvalidRequestError,
    RateLimitedError,
    ValidationFailedError,
)
from gateway.limits import (
    MemoryRateLimit,
    Rate,
    RateLimit,
    RedisRateLimit,
    address_bucket,
    retry_after_header,
)
from gateway.oauth.flow import AccountChoiceError
from gateway.oauth.requests import OAuthError
from gateway.partners.models import RegistryError
from gateway.partners.redirect_uris import redirect_uri_problem
from gateway.services import Services
from policies.messages import Text
from policies.pipeline import Exchange
from policies.vocabulary import CUSTOMER_SCOPES, PARTNER_SCOPES
from sandbox.core import ONE_TIME_CODE, TEST_PASSWORD, SandboxCore
from sandbox.router import (
    AuthorizeRequest,
    BillPaymentRequest,
    ClockAdvanced,
    ResetDone,
    SignupRequest,
    SignupResponse,
    TestCustomer,
)

DEFAULT_REDIRECT_URI = "http://127.0.0.1/callback"
SIGNUPS = Rate(count=10, period=3600)
CLIENT_NAME = "sandbox sign-up"

TOO_MANY_SIGNUPS = Text(
    "At most {count} sign-ups an hour are accepted from one address: retry after "
    "{seconds} seconds, or reuse the credentials you already have.",
    "同一地址每小时最多注册 {count} 次：请在 {seconds} 秒后重试，或继续使用已获得的凭据。",
)
BAD_REDIRECT_URIS = Text(
    "Some redirect URIs cannot be registered: see `errors` for each one.",
    "部分回调地址无法登记：各地址的问题见 errors。",
)
BAD_REDIRECT_URI = Text(
    "A redirect URI must be https, or http on a loopback address (127.0.0.1, [::1], "
    "localhost), and must not contain a fragment (#).",
    "回调地址必须使用 https，或使用回环地址（127.0.0.1、[::1]、localhost）上的 http，"
    "且不能包含片段（#）。",
)
NO_SUCH_CUSTOMER = Text(
    "There is no test customer '{customer}': use one of GET /sandbox/customers.",
    "不存在测试客户“{customer}”：请使用 GET /sandbox/customers 列出的客户。",
)


def signup_limit(services: Services) -> RateLimit:
    """The sign-up limiter: in Redis when configured (shared by replicas), else in process."""
    memory = MemoryRateLimit(SIGNUPS)
    if services.redis is None:
        return memory
    return RedisRateLimit(
        services.redis, SIGNUPS, name="signup", secret=services.secret, fallback=memory
    )


def validate_redirect_uris(uris: list[str]) -> list[str]:
    """`uris` if the registry would register each; else a `422` naming every bad one.

    The one place a sign-up checks redirect URIs, before anything is written, with the
    registry's own rule.
    """
    errors = []
    for index, uri in enumerate(uris):
        problem = redirect_uri_problem(uri)
        if problem is not None:
            errors.append(FieldError(f"redirect_uris.{index}", problem))
    if errors:
        raise ValidationFailedError(BAD_REDIRECT_URIS, errors=errors)
    return list(dict.fromkeys(uris))


class GatewaySandboxPort:
    """Implements `sandbox.router.SandboxPort` on the gateway's services."""

    def __init__(self, services: Services, bank: SandboxCore) -> None:
        self.services = services
        self.bank = bank
        self.signups = signup_limit(services)

    async def caller(self, request: Request) -> tuple[str, str]:
        exchange: Exchange = request.scope["state"]["exchange"]
        caller = exchange.caller
        assert caller is not None, "sandbox products authenticate their caller"
        assert caller.partner_id is not None, "only partner clients hold sandbox credentials"
        return caller.client_id, caller.partner_id

    async def _limit_signups(self, address: str) -> None:
        decision = await self.signups.hit(address_bucket(address))
        if not decision.is_allowed:
            headers = retry_after_header(decision)
            raise RateLimitedError(
                TOO_MANY_SIGNUPS.format(count=SIGNUPS.count, seconds=headers["Retry-After"]),
                headers=headers,
            )

    async def signup(self, request: Request, body: SignupRequest) -> SignupResponse:
        exchange: Exchange = request.scope["state"]["exchange"]
        await self._limit_signups(exchange.client_address)
        redirect_uris = validate_redirect_uris(body.redirect_uris or [DEFAULT_REDIRECT_URI])
        registry = self.services.registry
        partner_id: str | None = None
        try:
            async with self.services.db.transaction() as uow:
                partner = await registry.create_partner(
                    body.partner_name, body.sector, contact_email=body.contact_email, uow=uow
                )
                partner_id = partner.id
                issued = await registry.create_client(
                    partner_id=partner.id,
                    scopes=[*PARTNER_SCOPES, *CUSTOMER_SCOPES],
                    redirect_uris=redirect_uris,
                    name=CLIENT_NAME,
                    uow=uow,
                )
                # Generated, not loaded: the world is stored on its first use, outside this
                # unit of work (the customers depend on the partner id alone).
                customers = _test_customers(self.bank.world(partner.id).customers.values())
        except RegistryError as exc:
            if partner_id is not None:
                self.bank.discard(partner_id)
            raise InvalidRequestError(exc.message) from None
        except BaseException:
            if partner_id is not None:
                self.bank.discard(partner_id)
            raise
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
            "customers": customers,
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
                raise InvalidRequestError(NO_SUCH_CUSTOMER.format(customer=body.customer))
            if body.decision == "deny":
                return (await flow.deny(pushed)).redirect_to
            selected = None if body.accounts == "all" else list(body.accounts)
            return (await flow.approve(pushed, partner_id, customer, selected)).redirect_to
        except AccountChoiceError as exc:
            errors = [FieldError("accounts", exc.text)]
            raise ValidationFailedError(exc.text, errors=errors) from None
        except OAuthError as exc:
            raise InvalidRequestError(exc.description) from None

    async def customers(self, partner_id: str) -> list[TestCustomer]:
        return _test_customers(await self.bank.list_customers(partner_id))

    async def advance_clock(self, partner_id: str, by: timedelta) -> ClockAdvanced:
        now = await self.bank.advance_clock(partner_id, by)
        due = await self.services.due_work(partner_id, now)
        return {
            "now": now,
            "settled_payments": due.get("payments", 0),
            "expired_consents": due.get("consents", 0),
            "expired_bills": due.get("bills_expired", 0),
            "settled_bills": due.get("bills_settled", 0),
        }

    async def reset(self, partner_id: str) -> ResetDone:
        seed = await self.bank.reset(partner_id)
        return {"seed": seed, "customers": await self.customers(partner_id)}

    async def pay_bill(
        self, request: Request, partner_id: str, bill_id: str, body: BillPaymentRequest
    ) -> Response:
        return await pay_bill_at_bank(
            self.services, request.scope["state"]["exchange"], partner_id, bill_id, body.channel
        )


def _test_customers(customers: Iterable[Customer]) -> list[TestCustomer]:
    return [
        {
            "username": c.username,
            "name": c.full_name,
            "risk_tolerance": c.risk_tolerance,
            "kyc_status": c.kyc_status,
            "password": TEST_PASSWORD,
            "one_time_code": ONE_TIME_CODE,
        }
        for c in customers
    ]
