"""The composition root: `create_app(settings)` builds every service once and wires routes."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
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
from gateway.consents import routes as consents
from gateway.consents.service import ConsentService
from gateway.events.outbox import Outbox
from gateway.housekeeping import Housekeeper
from gateway.http.host import PipelineHost
from gateway.http.openapi import install_openapi
from gateway.http.routing import RouteTable, product
from gateway.http.stack import GatewayApp
from gateway.ids import Pairwise
from gateway.oauth import pages as oauth_pages
from gateway.oauth import routes as oauth_routes
from gateway.oauth.assertions import AssertionReplayCache
from gateway.oauth.flow import AuthorizationFlow
from gateway.oauth.keys import KeySealer
from gateway.oauth.requests import OAuthError, oauth_error_response
from gateway.oauth.server import GatewayAuthorizationServer
from gateway.oauth.signing_keys import SigningKeys
from gateway.oauth.state import OAuthState
from gateway.oauth.tokens import TokenIssuer
from gateway.ops import health, metrics, traces
from gateway.partners.service import Registry
from gateway.portal import routes as portal
from gateway.products import routes as products
from gateway.revocations import RevocationFeed, Revocations
from gateway.sandbox_port import GatewaySandboxPort
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


def load_secret(settings: Settings) -> bytes:
    """The gateway secret (pairwise ids, DPoP nonces, authorize sessions).

    `OBGW_SECRET_KEY` wins; else `<data dir>/secret.key`, created on first start. Every
    replica must share it.
    """
    configured = os.environ.get("OBGW_SECRET_KEY")
    if configured:
        if len(configured) < 32:
            raise RuntimeError("OBGW_SECRET_KEY must be at least 32 characters")
        return configured.encode()
    path = Path(settings.data_dir) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def build_core(
    settings: Settings,
) -> tuple[CoreAdapter, SandboxCore | None, CustomerAuthenticator | None]:
    """The core adapter, the sandbox bank (if that is the core) and the customer login.

    The sandbox's test customers log in only in the sandbox environment; in production,
    customer authentication needs the bank's own provider.
    """
    if settings.core is CoreKind.SANDBOX:
        bank = SandboxCore()
        customers = SandboxCustomers(bank) if settings.is_sandbox else None
        return bank, bank, customers
    raise RuntimeError(
        "OBGW_CORE=fineract: the Fineract adapter is not available in this build; "
        "use OBGW_CORE=sandbox"
    )


def signing_keys(settings: Settings, db: Database, secret: bytes) -> SigningKeys:
    """The signing keys in `db`, sealed under `secret`; a retired key is trusted for as long
    as a token it signed may live (plus a minute), and `keys.json` of an earlier version is
    imported on the first start."""
    return SigningKeys(
        db,
        KeySealer(secret),
        grace=timedelta(seconds=settings.access_token_ttl + 60),
        interval=settings.revocation_poll_interval,
        legacy_file=Path(settings.data_dir) / "keys.json",
    )


def _replay_cache(settings: Settings) -> tuple[ReplayCache, Any]:
    if not settings.redis_url:
        return MemoryReplayCache(), None
    import redis.asyncio as redis

    client = redis.Redis.from_url(
        settings.redis_url, socket_timeout=0.05, socket_connect_timeout=0.5
    )
    return RedisReplayCache(client), client


def build_services(settings: Settings) -> tuple[Services, SandboxCore | None]:
    """Every long-lived object of the gateway, built once."""
    db = Database(settings.database_url)
    catalog = load_catalog(settings.policy_file)
    secret = load_secret(settings)
    keys = signing_keys(settings, db, secret)
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
    adapter, bank, customer_auth = build_core(settings)
    core = CoreClient(
        adapter, timeout=settings.core_timeout, tracer=tracing.tracer, recorder=meters
    )
    meters.watch_breaker(core.name, lambda: core.breaker.state)
    pairwise = Pairwise(secret)
    flow = AuthorizationFlow(
        issuer=settings.issuer,
        db=db,
        consents=consent_service,
        core=core,
        pairwise=pairwise,
        code_ttl=settings.authorization_code_ttl,
        par_ttl=settings.par_ttl,
    )
    pipeline = Pipeline(
        [
            RequestLog(request_lines()),
            RequestMetrics(meters),
            Authentication(verifier, dpop, allow_bearer=not settings.is_strict, secrets=registry),
            ScopeCheck(),
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
        outbox=outbox,
        revocations=revocations,
        revocation_list=revocation_list,
        revocation_feed=RevocationFeed(db, revocation_list, settings.revocation_poll_interval),
        dpop=dpop,
        auth_server=auth_server,
        flow=flow,
        pipeline=pipeline,
        core=core,
        customer_auth=customer_auth,
        pairwise=pairwise,
        tracing=tracing,
        metrics=meters,
        secret=secret,
        redis=redis_client,
    )
    return services, bank


def _install_error_handlers(app: FastAPI) -> None:
    def respond(request: Request, error: errors.ProblemError) -> Response:
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
            error: errors.ProblemError = errors.NotFoundError(f"no route {request.url.path}")
        elif exc.status_code == 405:
            error = errors.MethodNotAllowedError(f"{request.method} is not allowed here")
            error.headers.update(exc.headers or {})
        else:
            error = errors.InvalidRequestError(str(exc.detail))
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
    housekeeper = Housekeeper(
        {"oauth_state": services.oauth_state.purge_expired, "signing_keys": services.keys.purge}
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services.db.is_sqlite:
            await services.db.upgrade()
        await services.keys.start()
        await services.revocation_feed.start()
        housekeeper.start()
        flusher = asyncio.create_task(flush_periodically(), name="log-flush")
        # Start-up objects live for the process: keep them out of every full collection,
        # which would otherwise pause all requests in flight for tens of milliseconds.
        gc.collect()
        gc.freeze()
        log.info(
            "gateway_started",
            environment=settings.environment.value,
            issuer=settings.issuer,
            core=services.core.name,
        )
        try:
            yield
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            await housekeeper.stop()
            await services.revocation_feed.stop()
            await services.keys.stop()
            await services.core.aclose()
            if services.redis is not None:
                await services.redis.aclose()
            await services.db.dispose()
            services.tracing.shutdown()

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
    _install_error_handlers(app)
    # Hot data routes first: the router tries routes in order.
    routers = [
        accounts.router,
        products.router,
        consents.router,
        oauth_routes.router,
        oauth_pages.router,
        health.router,
        metrics.router,
        traces.router,
        portal.router,
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
    )
    return app
