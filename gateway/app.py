"""The composition root: `create_app(settings)` builds every service once and wires routes."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from adapters.contract import CoreAdapter, CoreError
from adapters.identity import CustomerAuthenticator
from adapters.resilience import CoreClient
from gateway import errors
from gateway.accounts import routes as accounts
from gateway.clock import PartnerClock, SandboxClock, WallClock
from gateway.collections import routes as collections
from gateway.collections.service import BillService
from gateway.consents import routes as consents
from gateway.consents.service import ConsentService
from gateway.customers import routes as customers
from gateway.due import DueWork, Step
from gateway.events import routes as events
from gateway.events.feed import EventFeed
from gateway.events.outbox import Outbox
from gateway.files import load_secret
from gateway.housekeeping import Housekeeper
from gateway.http.forwarded import ClientAddresses
from gateway.http.host import PipelineHost
from gateway.http.openapi import install_openapi
from gateway.http.routing import RouteTable, product
from gateway.http.stack import GatewayApp
from gateway.idempotency import DatabaseIdempotencyStore
from gateway.ids import Pairwise
from gateway.oauth import pages as oauth_pages
from gateway.oauth import routes as oauth_routes
from gateway.oauth.assertions import AssertionReplayCache
from gateway.oauth.attempts import (
    AttemptLimits,
    AttemptStore,
    AuthorizationAttempts,
    DatabaseAttempts,
    RedisAttempts,
)
from gateway.oauth.flow import AuthorizationFlow
from gateway.oauth.requests import OAuthError, oauth_error_response
from gateway.oauth.security_events import SecurityEvents
from gateway.oauth.server import GatewayAuthorizationServer
from gateway.oauth.signing_keys import build_signing_keys
from gateway.oauth.state import OAuthState
from gateway.oauth.tokens import TokenIssuer
from gateway.ops import health, metrics, traces
from gateway.partners.service import Registry
from gateway.payments import routes as payments
from gateway.payments.service import PaymentService
from gateway.portal import problems as problem_pages
from gateway.portal import routes as portal
from gateway.products import routes as products
from gateway.revocations import RevocationFeed, Revocations
from gateway.sandbox_port import GatewaySandboxPort
from gateway.sandbox_store import DatabaseSandboxStore
from gateway.services import Services
from gateway.settings import CoreKind, Settings
from gateway.storage.database import Database
from gateway.telemetry.logging import configure_logging, flush_periodically, request_lines
from gateway.telemetry.metrics import Metrics
from gateway.telemetry.tracing import Tracing
from policies.access_tokens import AccessTokenVerifier
from policies.authentication import Authentication
from policies.catalog import load_catalog
from policies.consent import ConsentCache, ConsentCheck
from policies.dpop import DPoPVerifier, NonceIssuer
from policies.idempotency import IdempotencyKeys
from policies.messages import Text
from policies.metrics import RequestMetrics
from policies.pipeline import Pipeline
from policies.replay import MemoryReplayCache, RedisReplayCache, ReplayCache
from policies.request_log import RequestLog
from policies.revocation import RevocationList
from policies.scope import ScopeCheck
from policies.vocabulary import ALL_SCOPES
from sandbox.core import SandboxCore
from sandbox.customers import SandboxCustomers
from sandbox.router import build_router

log = structlog.get_logger("obgw")
VERSION = "0.1.0"
DUE_WORK_INTERVAL = 15.0  # seconds between rounds of settling and expiring on real time
NO_ROUTE = Text(
    "Nothing is served at this path: check it against the API reference (/openapi.json).",
    "此路径下没有任何资源：请对照接口文档（/openapi.json）核对路径。",
)
NOT_ALLOWED = Text(
    "This path does not serve this method; the methods it serves are in the Allow header.",
    "此路径不支持该方法；支持的方法见 Allow 响应头。",
)
UNREADABLE = Text(
    "The request could not be read: check its headers and body against the API reference.",
    "无法读取该请求：请对照接口文档检查请求头和请求体。",
)


def build_core(
    settings: Settings, secret: bytes, db: Database
) -> tuple[CoreAdapter, SandboxCore | None, CustomerAuthenticator | None]:
    """The core adapter, the sandbox bank (if that is the core) and the customer login.

    The sandbox's test customers log in only in the sandbox environment: in production they
    never exist, whatever the core, and customer authorization is refused (PAR for customer
    scopes, and the authorize pages) until the bank's own provider is configured.
    """
    if settings.core is CoreKind.SANDBOX:
        bank = SandboxCore(store=DatabaseSandboxStore(db))
        customers = None
        if settings.is_sandbox:
            key = hmac.new(secret, b"sandbox-one-time-codes", hashlib.sha256).digest()
            customers = SandboxCustomers(bank, key)
        return bank, bank, customers
    raise RuntimeError(
        "OBGW_CORE=fineract: the Fineract adapter is not available in this build; "
        "use OBGW_CORE=sandbox"
    )


def _replay_cache(settings: Settings) -> tuple[ReplayCache, Any]:
    if not settings.redis_url:
        return MemoryReplayCache(), None
    import redis.asyncio as redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    # Every caller bounds its own wait and decides how to fail: no retries behind its back
    # (redis-py's default of three with backoff turns a lost Redis into seconds per request).
    client = redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=0.05,
        socket_connect_timeout=0.1,
        retry=Retry(NoBackoff(), retries=0),
    )
    return RedisReplayCache(client), client


def _attempts(
    settings: Settings, db: Database, redis_client: Any, secret: bytes
) -> AuthorizationAttempts:
    """Failed-login counting in Redis when it is configured, else in the database."""
    store: AttemptStore = (
        RedisAttempts(redis_client) if redis_client is not None else DatabaseAttempts(db)
    )
    limits = AttemptLimits(
        passwords=settings.login_password_attempts,
        codes=settings.login_code_attempts,
        lockout=settings.login_lockout,
    )
    return AuthorizationAttempts(store, limits, secret)


def _payments_step(payments: PaymentService) -> Step:
    async def settle(partner_id: str | None, now: datetime) -> dict[str, int]:
        return {"payments": await payments.reconcile(partner_id)}

    return settle


def _consents_step(consents: ConsentService) -> Step:
    async def expire(partner_id: str | None, now: datetime) -> dict[str, int]:
        return {"consents": await consents.expire_due(now, partner_id)}

    return expire


def build_services(settings: Settings) -> tuple[Services, SandboxCore | None]:
    """Every long-lived object of the gateway, built once."""
    db = Database(settings.database_url)
    catalog = load_catalog(settings.policy_file)
    secret = load_secret(settings)
    keys = build_signing_keys(settings, db, secret)
    tracing = Tracing(
        service_version=VERSION,
        environment=settings.environment.value,
        sample_ratio=settings.trace_sample_ratio,
        otlp_endpoint=settings.otlp_endpoint,
    )
    meters = Metrics()
    revocation_list = RevocationList()
    revocations = Revocations(revocation_list)
    oauth_state = OAuthState(db, revocations)
    registry = Registry(db, revocations)
    outbox = Outbox()
    consent_service = ConsentService(db, revocations, outbox, oauth_state.refresh_tokens)
    replay, redis_client = _replay_cache(settings)
    dpop = DPoPVerifier(
        replay,
        iat_window=settings.dpop_iat_window,
        nonces=NonceIssuer(secret),
        require_nonce=settings.dpop_require_nonce,
    )
    verifier = AccessTokenVerifier(settings.issuer, keys, revocation_list)
    issuer = TokenIssuer(
        settings.issuer,
        keys.ring,
        oauth_state,
        access_ttl=settings.access_token_ttl,
        refresh_ttl=settings.refresh_token_ttl,
    )
    auth_server = GatewayAuthorizationServer(
        strict=settings.is_strict,
        registry=registry,
        state=oauth_state,
        consents=consent_service,
        assertions=AssertionReplayCache(db),
        issuer=issuer,
        verifier=verifier,
        scopes=list(ALL_SCOPES),
    )
    adapter, bank, customer_auth = build_core(settings, secret, db)
    clock: PartnerClock = SandboxClock(bank) if bank is not None else WallClock()
    core = CoreClient(
        adapter, timeout=settings.core_timeout, tracer=tracing.tracer, recorder=meters
    )
    meters.watch_breaker(core.name, lambda: core.breaker.state)
    pairwise = Pairwise(secret)
    attempts = _attempts(settings, db, redis_client, secret)
    flow = AuthorizationFlow(
        issuer=settings.issuer,
        db=db,
        consents=consent_service,
        registry=registry,
        attempts=attempts,
        customers=customer_auth,
        core=core,
        pairwise=pairwise,
        code_ttl=settings.authorization_code_ttl,
        par_ttl=settings.par_ttl,
    )
    idempotency = DatabaseIdempotencyStore(db)
    bills = BillService(db, outbox, clock)
    payments_service = PaymentService(
        db=db,
        core=core,
        clock=clock,
        catalog=catalog,
        registry=registry,
        outbox=outbox,
        idempotency=idempotency,
        bills=bills,
    )
    pipeline = Pipeline(
        [
            RequestLog(request_lines()),
            RequestMetrics(meters),
            Authentication(verifier, dpop, allow_bearer=not settings.is_strict, secrets=registry),
            ScopeCheck(),
            IdempotencyKeys(idempotency),
            ConsentCheck(ConsentCache(consent_service, revocation_list)),
        ],
        span=tracing.span,
    )
    services = Services(
        settings=settings,
        db=db,
        catalog=catalog,
        keys=keys,
        registry=registry,
        oauth_state=oauth_state,
        consents=consent_service,
        bills=bills,
        outbox=outbox,
        event_feed=EventFeed(db),
        revocations=revocations,
        revocation_list=revocation_list,
        revocation_feed=RevocationFeed(db, revocation_list, settings.revocation_poll_interval),
        dpop=dpop,
        auth_server=auth_server,
        flow=flow,
        pipeline=pipeline,
        idempotency=idempotency,
        clock=clock,
        payments=payments_service,
        due_work=DueWork(
            {
                "payments": _payments_step(payments_service),
                "consents": _consents_step(consent_service),
                "bills": bills.process_due,
            }
        ),
        core=core,
        customer_auth=customer_auth,
        attempts=attempts,
        security_events=SecurityEvents(meters),
        pairwise=pairwise,
        tracing=tracing,
        metrics=meters,
        secret=secret,
        redis=redis_client,
    )
    return services, bank


def _install_error_handlers(app: FastAPI) -> None:
    def respond(request: Request, error: errors.ProblemError) -> Response:
        exchange = request.scope["state"].get("exchange")
        if exchange is not None:
            exchange.error = error  # the request log and the span name the problem
        return errors.problem_response(
            error, request.scope["state"]["request_id"], request.headers.get("accept-language")
        )

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, errors.ProblemError)
        return respond(request, exc)

    async def on_core_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CoreError)
        return respond(request, errors.from_core_error(exc))

    async def on_oauth_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OAuthError)
        return oauth_error_response(request, exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return respond(request, errors.from_validation_errors(exc.errors()))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            error: errors.ProblemError = errors.NotFoundError(NO_ROUTE)
        elif exc.status_code == 405:
            error = errors.MethodNotAllowedError(NOT_ALLOWED)
            error.headers.update(exc.headers or {})
        else:
            error = errors.InvalidRequestError(UNREADABLE)
            error.status = exc.status_code
        return respond(request, error)

    app.add_exception_handler(errors.ProblemError, on_problem)
    app.add_exception_handler(CoreError, on_core_error)
    app.add_exception_handler(OAuthError, on_oauth_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the gateway for `settings` (from the environment when omitted)."""
    settings = settings or Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    services, bank = build_services(settings)
    jobs: dict[str, Callable[[], Awaitable[int]]] = {
        "oauth_state": services.oauth_state.purge_expired,
        "signing_keys": services.keys.purge,
        "idempotency_keys": services.idempotency.purge_expired,
    }
    if isinstance(services.attempts.store, DatabaseAttempts):
        jobs["authorization_attempts"] = services.attempts.store.purge_expired
    housekeeper = Housekeeper(jobs)
    settler = Housekeeper({"due_work": services.due_work.everyone}, DUE_WORK_INTERVAL)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services.db.is_sqlite:
            await services.db.upgrade()
        await services.keys.start()
        await services.revocation_feed.start()
        housekeeper.start()
        settler.start()
        flusher = asyncio.create_task(flush_periodically(), name="log-flush")
        # Start-up objects live for the process: keep them out of every full collection,
        # which would otherwise pause all requests in flight for tens of milliseconds.
        gc.collect()
        gc.freeze()
        log.info(
            "gateway_started",
            environment=settings.environment.value,
            issuer=settings.issuer,
            portal=f"{settings.issuer}/",
            core=services.core.name,
        )
        try:
            yield
        finally:
            try:
                await housekeeper.stop()
                await settler.stop()
                await services.revocation_feed.stop()
                await services.keys.stop()
                await services.core.aclose()
                if services.redis is not None:
                    await services.redis.aclose()
                await services.db.dispose()
                services.tracing.shutdown()
            finally:
                log.info("gateway_stopped", environment=settings.environment.value)
                # Stopping the flusher writes every pending line; what the server logs after
                # this (its own shutdown lines) is written at once.
                flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await flusher

    app = GatewayApp(
        title="obgw open-banking gateway",
        version=VERSION,
        summary="Account, payment, deposit, loan and wealth capabilities for scene partners.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # Tracing is ours (one server span per request in the pipeline host).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.services = services
    app.state.housekeeper = housekeeper
    app.state.settler = settler
    _install_error_handlers(app)
    # Hot data routes first: the router tries routes in order.
    routers = [
        accounts.router,
        payments.router,
        customers.router,
        products.router,
        events.router,
        consents.router,
        collections.router,
        oauth_routes.router,
        oauth_pages.router,
        health.router,
        metrics.router,
        traces.router,
        portal.router,
        problem_pages.router,
    ]
    if settings.is_sandbox and bank is not None:
        routers.append(build_router(GatewaySandboxPort(services, bank), product))
    for router in routers:
        # The routes themselves, not the routers: one flat table to match, as the bare
        # framework has (included routers add a matching step per router and request).
        app.router.routes.extend(router.routes)
    table = RouteTable(app.routes, services.catalog)
    install_openapi(app, services)
    app.add_middleware(
        PipelineHost,
        table=table,
        pipeline=services.pipeline,
        issuer=settings.issuer,
        tracing=services.tracing,
        max_body_bytes=settings.max_body_bytes,
        addresses=ClientAddresses(settings.trusted_proxies, settings.forwarded_header),
    )
    return app
