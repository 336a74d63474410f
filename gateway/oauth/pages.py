"""The customer-facing authorize pages: login, one-time code, consent and account choice.

The state between steps travels in a signed `interaction` token (`gateway.oauth.interaction`)
that expires with the pushed request, so any replica can serve any step and no step outlives
the request. Failed passwords and codes are counted in the shared store
(`gateway.oauth.attempts`) per request and per customer; past a limit the request's
`request_uri` is consumed, or the customer locked, and each failure is a security event.
Everything that goes wrong is a page in Chinese and English (`gateway.oauth.page_errors`).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from adapters.contract import CoreError, Customer
from adapters.identity import CustomerAuthenticator
from gateway.consents.models import Consent
from gateway.deps import Call, CallRoute
from gateway.errors import from_core_error
from gateway.http.routing import product
from gateway.oauth import page_errors, page_views
from gateway.oauth.attempts import (
    Attempt,
    AttemptStoreUnavailable,
    Factor,
    LockScope,
    TooManyAttempts,
)
from gateway.oauth.flow import (
    AccountChoiceError,
    ConsentUnavailable,
    RequestUnusable,
    terms_of,
)
from gateway.oauth.interaction import Interaction, InteractionError, Interactions
from gateway.oauth.page_errors import PageError
from gateway.oauth.pushed_requests import PushedRequest
from gateway.oauth.security_events import SecurityEventKind
from gateway.services import Services
from policies.errors import ProblemError
from policies.masking import mask_mobile
from policies.messages import Text
from policies.vocabulary import ConsentStatus, ConsentType

router = APIRouter(tags=["OAuth 2.0"], include_in_schema=False, route_class=CallRoute)
PAGES = product("oauth.authorize")
WRONG_PASSWORD = Text(
    "Wrong username or password: check them and try again.",
    "用户名或密码错误，请检查后重试。",
)
WRONG_CODE = Text(
    "Wrong one-time code: enter the code from the latest text message.",
    "动态验证码错误，请输入最新短信中的验证码。",
)

Page = Callable[[Call], Awaitable[Response]]


def page(handler: Page) -> Page:
    """Serve an authorize page; every refusal becomes an error page, never a JSON body."""

    @functools.wraps(handler)
    async def serve(call: Call) -> Response:
        services = call.services
        try:
            return await handler(call)
        except PageError as error:
            refusal: ProblemError = error
            pushed, back_to = error.pushed, error.back_to
        except ProblemError as error:
            refusal, pushed, back_to = error, None, None
        except AttemptStoreUnavailable:
            refusal, pushed, back_to = (
                page_errors.login_unavailable(services.flow, None),
                None,
                None,
            )
        except CoreError as exc:
            refusal = page_errors.bank_unavailable(from_core_error(exc))
            pushed, back_to = None, None
        call.exchange.error = refusal
        return await page_views.error_page(
            services, refusal, call.exchange.request_id, pushed=pushed, back_to=back_to
        )

    return serve


def _interactions(services: Services) -> Interactions:
    return Interactions(services.secret)


async def _pending(services: Services, client_id: str, request_uri: str) -> PushedRequest:
    try:
        return await services.flow.pending(client_id, request_uri)
    except RequestUnusable as error:
        raise page_errors.unusable(services.flow, error) from None


async def _read(services: Services, form: FormData, step: str) -> tuple[Interaction, PushedRequest]:
    """The form's interaction for `step`, and its pushed request, still usable."""
    try:
        interaction = _interactions(services).read(str(form.get("interaction", "")), step)
    except InteractionError as error:
        if error.expired is None:
            raise page_errors.session_invalid() from None
        expired = error.expired
        pushed = await _pending(services, expired.client_id, expired.request_uri)
        raise page_errors.expired(services.flow, pushed) from None
    return interaction, await _pending(services, interaction.client_id, interaction.request_uri)


def _customers(services: Services, pushed: PushedRequest | None) -> CustomerAuthenticator:
    if services.customer_auth is None:
        raise page_errors.login_unavailable(services.flow, pushed)
    return services.customer_auth


def _customer_key(partner_id: str, username: str, customer: Customer | None) -> str:
    """Whom failures count against: the provider's customer (the same person whichever
    partner asks), or, for a name with no customer, that name at this partner."""
    if customer is not None:
        return "ref:" + customer.core_ref
    return f"login:{partner_id}:{username.casefold()}"


async def _customer(services: Services, interaction: Interaction) -> Customer:
    ctx = services.core.context(interaction.partner_id)
    customers = _customers(services, None)
    found = await customers.find(ctx, interaction.username or "")
    if found is None:
        raise page_errors.session_invalid()
    return found


async def _consent(services: Services, pushed: PushedRequest) -> Consent:
    consent = await services.consents.get(pushed.params["consent_id"])
    if consent is None or consent.status is not ConsentStatus.AWAITING_AUTHORISATION:
        raise page_errors.consent_unavailable(services.flow, pushed)
    return consent


def _event(
    services: Services, kind: SecurityEventKind, interaction: Interaction, login: str
) -> None:
    services.security_events.record(
        kind,
        partner_id=interaction.partner_id,
        client_id=interaction.client_id,
        request_uri=interaction.request_uri,
        login=login,
    )


async def _locked(
    services: Services,
    pushed: PushedRequest,
    interaction: Interaction,
    login: str,
    scopes: list[LockScope],
    *,
    is_new: bool,
) -> PageError:
    """Lock-out: a locked request's `request_uri` is consumed; each new lock is an event,
    and so is each attempt on what is already locked."""
    if LockScope.REQUEST in scopes:
        await services.flow.invalidate(pushed)
    for scope in scopes if is_new else scopes[:1]:
        kind = SecurityEventKind.LOCKED_ATTEMPT
        if is_new:
            kind = (
                SecurityEventKind.AUTHORIZATION_LOCKED
                if scope is LockScope.REQUEST
                else SecurityEventKind.CUSTOMER_LOCKED
            )
        _event(services, kind, interaction, login)
    lockout = services.attempts.limits.lockout
    return page_errors.locked(services.flow, pushed, scopes[0], lockout)


async def _begin(
    services: Services,
    factor: Factor,
    pushed: PushedRequest,
    interaction: Interaction,
    key: str,
    login: str,
) -> Attempt:
    try:
        return await services.attempts.begin(factor, pushed.request_uri, key)
    except TooManyAttempts as locked:
        raise await _locked(
            services, pushed, interaction, login, [locked.scope], is_new=False
        ) from None


async def _failed(
    services: Services,
    attempt: Attempt,
    pushed: PushedRequest,
    interaction: Interaction,
    login: str,
) -> None:
    """Count a wrong password or code; raise the lock-out page if it reached a limit."""
    kind = (
        SecurityEventKind.LOGIN_FAILED
        if attempt.factor is Factor.PASSWORD
        else SecurityEventKind.OTP_FAILED
    )
    _event(services, kind, interaction, login)
    scopes = await services.attempts.failed(attempt)
    if scopes:
        raise await _locked(services, pushed, interaction, login, scopes, is_new=True)


async def _login_page(
    services: Services, pushed: PushedRequest, interaction: Interaction, error: Text | None = None
) -> Response:
    token = _interactions(services).issue(interaction)
    status = 200 if error is None else 401
    return await page_views.render(
        services, pushed, "login", status, interaction=token, error=error
    )


async def _otp_page(
    services: Services,
    pushed: PushedRequest,
    interaction: Interaction,
    customer: Customer,
    consent: Consent,
    error: Text | None = None,
) -> Response:
    terms = terms_of(consent)
    return await page_views.render(
        services,
        pushed,
        "otp",
        200 if error is None else 401,
        interaction=_interactions(services).issue(interaction),
        masked_mobile=mask_mobile(customer.mobile),
        payment=page_views.payment_view(terms),
        permissions=page_views.permissions_view(terms),
        error=error,
    )


async def _consent_page(
    services: Services,
    pushed: PushedRequest,
    interaction: Interaction,
    customer: Customer,
    consent: Consent,
    error: Text | None = None,
) -> Response:
    partner_id = interaction.partner_id
    accounts = await services.flow.accounts_of(partner_id, customer)
    options = [
        page_views.account_option(services.pairwise.account(partner_id, a.core_ref), a)
        for a in accounts
    ]
    terms = terms_of(consent)
    step = interaction.next(
        "consent", username=customer.username, challenge=None, terms_digest=terms.digest()
    )
    return await page_views.render(
        services,
        pushed,
        "consent",
        200 if error is None else 400,
        interaction=_interactions(services).issue(step),
        accounts=options,
        # A payment is made from one account: the customer picks it, the first enabled
        # one offered; other consents cover every account ticked.
        choose_one=consent.type is ConsentType.PAYMENT,
        preselected=next((o.id for o in options if o.is_enabled), None),
        permissions=page_views.permissions_view(terms),
        payment=page_views.payment_view(terms),
        customer_name=customer.family_name + "**",
        expires=consent.expires_at.date().isoformat() if consent.expires_at else "—",
        error=error,
    )


@router.get("/oauth/authorize", openapi_extra=PAGES)
@page
async def authorize(call: Call) -> Response:
    services = call.services
    client_id = call.query_params.get("client_id", "")
    request_uri = call.query_params.get("request_uri", "")
    if not client_id or not request_uri:
        raise page_errors.missing_parameters()
    if services.customer_auth is None:
        try:
            known: PushedRequest | None = await services.flow.pending(client_id, request_uri)
        except RequestUnusable:
            known = None
        raise page_errors.login_unavailable(services.flow, known)
    pushed = await _pending(services, client_id, request_uri)
    client = await services.registry.get_client(client_id)
    assert client is not None, "pending checked the client"
    assert client.partner_id is not None, "only partner clients push requests"
    interaction = _interactions(services).start(pushed, client.partner_id)
    return await _login_page(services, pushed, interaction)


@router.post("/oauth/authorize/login", openapi_extra=PAGES)
@page
async def login(call: Call) -> Response:
    services = call.services
    form = await call.form()
    interaction, pushed = await _read(services, form, "login")
    customers = _customers(services, pushed)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    ctx = services.core.context(interaction.partner_id)
    known = await customers.find(ctx, username)
    key = _customer_key(interaction.partner_id, username, known)
    attempt = await _begin(services, Factor.PASSWORD, pushed, interaction, key, username)
    customer = await customers.authenticate(ctx, username, password)
    if customer is None:
        await _failed(services, attempt, pushed, interaction, username)
        return await _login_page(services, pushed, interaction, error=WRONG_PASSWORD)
    await services.attempts.succeeded(attempt)
    consent = await _consent(services, pushed)
    if consent.moves_funds:
        challenge = await customers.send_one_time_code(ctx, customer, terms_of(consent))
        step = interaction.next("otp", username=customer.username, challenge=challenge)
        return await _otp_page(services, pushed, step, customer, consent)
    return await _consent_page(services, pushed, interaction, customer, consent)


@router.post("/oauth/authorize/otp", openapi_extra=PAGES)
@page
async def one_time_code(call: Call) -> Response:
    services = call.services
    form = await call.form()
    interaction, pushed = await _read(services, form, "otp")
    customer = await _customer(services, interaction)
    consent = await _consent(services, pushed)
    terms = terms_of(consent)
    key = _customer_key(interaction.partner_id, customer.username, customer)
    attempt = await _begin(services, Factor.CODE, pushed, interaction, key, customer.username)
    challenge = interaction.challenge
    is_right = challenge is not None and await _customers(services, pushed).verify_one_time_code(
        services.core.context(interaction.partner_id),
        customer,
        challenge,
        terms,
        str(form.get("code", "")),
    )
    if not is_right:
        await _failed(services, attempt, pushed, interaction, customer.username)
        return await _otp_page(services, pushed, interaction, customer, consent, error=WRONG_CODE)
    await services.attempts.succeeded(attempt)
    return await _consent_page(services, pushed, interaction, customer, consent)


@router.post("/oauth/authorize/decision", openapi_extra=PAGES)
@page
async def decision(call: Call) -> Response:
    services = call.services
    form = await call.form()
    interaction, pushed = await _read(services, form, "consent")
    flow = services.flow
    try:
        if form.get("decision") != "approve":
            completion = await flow.deny(pushed)
        else:
            customer = await _customer(services, interaction)
            key = _customer_key(interaction.partner_id, customer.username, customer)
            try:
                await services.attempts.check(pushed.request_uri, key)
            except TooManyAttempts as locked:
                raise await _locked(
                    services, pushed, interaction, customer.username, [locked.scope], is_new=False
                ) from None
            if interaction.terms_digest is None:
                raise page_errors.session_invalid()
            try:
                completion = await flow.approve(
                    pushed,
                    interaction.partner_id,
                    customer,
                    [str(v) for v in form.getlist("accounts")],
                    terms_digest=interaction.terms_digest,
                )
            except AccountChoiceError as error:
                consent = await _consent(services, pushed)
                return await _consent_page(
                    services, pushed, interaction, customer, consent, error=error.text
                )
    except RequestUnusable as error:
        raise page_errors.unusable(flow, error) from None
    except ConsentUnavailable:
        raise page_errors.consent_unavailable(flow, pushed) from None
    return RedirectResponse(completion.redirect_to, 303, headers=page_views.PAGE_HEADERS)
