"""The customer-facing authorize pages: login, one-time code, consent and account choice.

The state between steps travels in a short-lived, signed `interaction` token in the
form, so any replica can serve any step.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from starlette.responses import HTMLResponse, RedirectResponse, Response

from adapters.contract import Customer
from adapters.identity import CustomerAuthenticator
from gateway.deps import Call, CallRoute
from gateway.errors import InvalidRequestError
from gateway.http.routing import product
from gateway.http.templates import templates
from gateway.oauth.pushed_requests import PushedRequest
from gateway.oauth.requests import OAuthError
from gateway.services import Services
from policies.masking import mask_account_number, mask_mobile

router = APIRouter(tags=["OAuth 2.0"], include_in_schema=False, route_class=CallRoute)
PAGES = product("oauth.authorize")
INTERACTION_TTL = 600
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
PERMISSION_TEXT = {
    "ReadAccountsBasic": "查看账户基本信息 · See your accounts",
    "ReadAccountsDetail": "查看账户详细信息（含账号） · See account details and numbers",
    "ReadBalances": "查看账户余额 · See balances",
    "ReadTransactions": "查看交易明细 · See transactions",
    "ReadParty": "查看您的姓氏与风险等级 · See your family name and risk profile",
    "ReadPartyDetail": "查看您的姓名与风险等级 · See your name and risk profile",
    "InitiatePayments": "发起一笔付款 · Make one payment",
    "ReadDeposits": "查看定期存款 · See your term deposits",
    "OpenDeposits": "开立定期存款 · Open term deposits",
    "ReadLoans": "查看贷款 · See your loans",
    "ApplyLoans": "申请贷款 · Apply for loans",
    "ReadWealth": "查看理财持仓 · See wealth holdings",
    "TradeWealth": "买卖理财产品 · Buy and sell wealth products",
}


def _key(services: Services) -> OctKey:
    return OctKey.import_key(services.secret)


def _sign(services: Services, **claims: Any) -> str:
    claims["exp"] = int(time.time()) + INTERACTION_TTL
    claims["aud"] = "obgw-authorize"
    return jwt.encode({"alg": "HS256"}, claims, _key(services), algorithms=["HS256"])


def _verify(services: Services, token: str, step: str) -> dict[str, Any]:
    try:
        claims = dict(jwt.decode(token, _key(services), algorithms=["HS256"]).claims)
    except (JoseError, ValueError) as exc:
        raise InvalidRequestError("the authorization session is invalid") from exc
    if claims.get("aud") != "obgw-authorize" or claims.get("step") != step:
        raise InvalidRequestError("the authorization session is invalid")
    if claims.get("exp", 0) < time.time():
        raise InvalidRequestError("the authorization session has expired; start again")
    return claims


async def _render(
    services: Services, pushed: PushedRequest, step: str, status: int = 200, **context: Any
) -> HTMLResponse:
    client = await services.registry.get_client(pushed.client_id)
    partner = (
        await services.registry.get_partner(client.partner_id)
        if client and client.partner_id
        else None
    )
    html = templates.get_template("authorize.html").render(
        step=step,
        base=services.settings.issuer,
        bank_name="城市商业银行 City Commercial Bank",
        partner_name=partner.name if partner else pushed.client_id,
        sandbox=services.settings.is_sandbox,
        **context,
    )
    return HTMLResponse(html, status, headers=PAGE_HEADERS)


async def _pending(services: Services, claims: dict[str, Any]) -> PushedRequest:
    # The session (10 min) may outlive the request_uri's 90 s; it must only be unused.
    try:
        return await services.flow.pending(
            claims["client_id"], claims["request_uri"], check_expiry=False
        )
    except OAuthError:
        raise InvalidRequestError("this authorization was already completed") from None


def _customers(services: Services) -> CustomerAuthenticator:
    if services.customer_auth is None:
        raise OAuthError("temporarily_unavailable", "customer login is not configured", 503)
    return services.customer_auth


async def _customer(services: Services, partner_id: str, username: str) -> Customer:
    found = await _customers(services).find(services.core.context(partner_id), username)
    if found is None:
        raise InvalidRequestError("the authorization session is invalid")
    return found


async def _consent_page(
    services: Services, pushed: PushedRequest, partner_id: str, customer: Customer
) -> HTMLResponse:
    consent = await services.consents.get(pushed.params["consent_id"])
    if consent is None:
        raise InvalidRequestError("the consent no longer exists")
    accounts = await services.flow.accounts_of(partner_id, customer)
    options = [
        {
            "id": services.pairwise.account(partner_id, a.core_ref),
            "label": f"{a.nickname} {mask_account_number(a.account_number)} ({a.currency})",
        }
        for a in accounts
    ]
    interaction = _sign(
        services,
        step="consent",
        request_uri=pushed.request_uri,
        client_id=pushed.client_id,
        partner_id=partner_id,
        username=customer.username,
    )
    expires = consent.expires_at.date().isoformat() if consent.expires_at else "—"
    return await _render(
        services,
        pushed,
        "consent",
        interaction=interaction,
        accounts=options,
        permissions=[PERMISSION_TEXT.get(p, p) for p in consent.permissions],
        customer_name=customer.family_name + "**",
        expires=expires,
    )


@router.get("/oauth/authorize", openapi_extra=PAGES)
async def authorize(call: Call) -> Response:
    services = call.services
    client_id = call.query_params.get("client_id", "")
    request_uri = call.query_params.get("request_uri", "")
    if not client_id or not request_uri:
        raise InvalidRequestError(
            "pushed authorization is required: pass client_id and the request_uri from /oauth/par"
        )
    try:
        pushed = await services.flow.pending(client_id, request_uri)
    except OAuthError as exc:
        raise InvalidRequestError(exc.description) from None
    client = await services.registry.get_client(client_id)
    if client is None or client.partner_id is None:
        raise InvalidRequestError("unknown client")
    interaction = _sign(
        services,
        step="login",
        request_uri=request_uri,
        client_id=client_id,
        partner_id=client.partner_id,
    )
    return await _render(services, pushed, "login", interaction=interaction)


@router.post("/oauth/authorize/login", openapi_extra=PAGES)
async def login(call: Call) -> Response:
    services = call.services
    form = await call.form()
    claims = _verify(services, str(form.get("interaction", "")), "login")
    pushed = await _pending(services, claims)
    partner_id = claims["partner_id"]
    customer = await _customers(services).authenticate(
        services.core.context(partner_id),
        str(form.get("username", "")),
        str(form.get("password", "")),
    )
    if customer is None:
        interaction = _sign(
            services,
            step="login",
            request_uri=pushed.request_uri,
            client_id=pushed.client_id,
            partner_id=partner_id,
        )
        return await _render(
            services,
            pushed,
            "login",
            401,
            interaction=interaction,
            error="用户名或密码错误 · Wrong username or password",
        )
    consent = await services.consents.get(pushed.params["consent_id"])
    if consent is not None and consent.moves_funds:
        interaction = _sign(
            services,
            step="otp",
            request_uri=pushed.request_uri,
            client_id=pushed.client_id,
            partner_id=partner_id,
            username=customer.username,
        )
        return await _render(
            services,
            pushed,
            "otp",
            interaction=interaction,
            masked_mobile=mask_mobile(customer.mobile),
        )
    return await _consent_page(services, pushed, partner_id, customer)


@router.post("/oauth/authorize/otp", openapi_extra=PAGES)
async def one_time_code(call: Call) -> Response:
    services = call.services
    form = await call.form()
    claims = _verify(services, str(form.get("interaction", "")), "otp")
    pushed = await _pending(services, claims)
    partner_id, username = claims["partner_id"], claims["username"]
    customer = await _customer(services, partner_id, username)
    if not await _customers(services).verify_one_time_code(
        services.core.context(partner_id), customer, str(form.get("code", ""))
    ):
        interaction = _sign(
            services,
            step="otp",
            request_uri=pushed.request_uri,
            client_id=pushed.client_id,
            partner_id=partner_id,
            username=username,
        )
        return await _render(
            services,
            pushed,
            "otp",
            401,
            interaction=interaction,
            masked_mobile=mask_mobile(customer.mobile),
            error="验证码错误 · Wrong code",
        )
    return await _consent_page(services, pushed, partner_id, customer)


@router.post("/oauth/authorize/decision", openapi_extra=PAGES)
async def decision(call: Call) -> Response:
    services = call.services
    form = await call.form()
    claims = _verify(services, str(form.get("interaction", "")), "consent")
    pushed = await _pending(services, claims)
    partner_id = claims["partner_id"]
    try:
        if form.get("decision") == "approve":
            customer = await _customer(services, partner_id, claims["username"])
            selected = [str(v) for v in form.getlist("accounts")]
            completion = await services.flow.approve(pushed, partner_id, customer, selected)
        else:
            completion = await services.flow.deny(pushed)
    except OAuthError as exc:
        raise InvalidRequestError(exc.description) from None
    return RedirectResponse(completion.redirect_to, status_code=303, headers=PAGE_HEADERS)
