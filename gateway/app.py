"""The composition root: `create_app(settings)` builds every service once and wires routes."""

from __future__ import annotations

import gc
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute

from adapters.contract import CoreBanking, CoreError
from gateway import errors
from gateway.consents import ConsentStore
from gateway.deps import guarded_routes
from gateway.housekeeping import Housekeeper
from gateway.ids import Pairwise
from gateway.logging import configure_logging
from gateway.middleware import (
    PipelineResponseMiddleware,
    RequestContextMiddleware,
    request_id_of,
)
from gateway.oauth import pages as oauth_pages
from gateway.oauth import routes as oauth_routes
from gateway.oauth.authorize import AuthorizationFlow, CustomerDirectory
from gateway.oauth.keys import KeyStore
from gateway.oauth.requests import OAuthError, oauth_error_response
from gateway.oauth.server import GatewayAuthorizationServer
from gateway.oauth.store import OAuthStore, RevocationFeed
from gateway.oauth.tokens import TokenIssuer
from gateway.registry import ALL_SCOPES, Registry
from gateway.routes import accounts, catalogue, consents, health, portal
from gateway.sandbox_bridge import GatewaySandboxPort
from gateway.services import Services
from gateway.settings import CoreKind, Settings
from gateway.storage.database import Database
from policies.authentication import AccessTokenVerifier, AuthenticationPolicy
from policies.catalog import CatalogError, load_catalog
from policies.consent import ConsentCache, ConsentPolicy
from policies.dpop import DPoPVerifier, NonceIssuer
from policies.pipeline import Pipeline
from policies.replay import MemoryReplayCache, RedisReplayCache, ReplayCache
from policies.revocation import RevocationList
from policies.scope import ScopePolicy
from sandbox.core import SandboxCore
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


def build_core(settings: Settings) -> tuple[CoreBanking, CustomerDirectory | None]:
    if settings.core is CoreKind.SANDBOX:
        core = SandboxCore()
        return core, core
    raise RuntimeError(
        "OBGW_CORE=fineract: the Fineract adapter is not available in this build; "
        "use OBGW_CORE=sandbox"
    )


def _replay_cache(settings: Settings) -> tuple[ReplayCache, object | None]:
    if not settings.redis_url:
        return MemoryReplayCache(), None
    import redis.asyncio as redis

    client = redis.Redis.from_url(
        settings.redis_url, socket_timeout=0.05, socket_connect_timeout=0.5
    )
    return RedisReplayCache(client), client


def build_services(settings: Settings) -> Services:
    """Every long-lived object of the gateway, built once."""
    db = Database(settings.database_url)
    catalog = load_catalog(settings.policy_file)
    secret = load_secret(settings)
    keys = KeyStore(
        Path(settings.data_dir) / "keys.json", publish_grace=settings.access_token_ttl + 60
    )
    keys.ensure()
    revocations = RevocationList()
    oauth_store = OAuthStore(db, revocations)
    registry = Registry(db)
    consent_store = ConsentStore(db, oauth_store)
    replay, redis_client = _replay_cache(settings)
    dpop = DPoPVerifier(
        replay,
        iat_window=settings.dpop_iat_window,
        nonces=NonceIssuer(secret),
        require_nonce=settings.dpop_require_nonce,
    )
    verifier = AccessTokenVerifier(settings.issuer, keys.public_keyset, revocations)
    issuer = TokenIssuer(
        settings.issuer,
        keys,
        oauth_store,
        access_ttl=settings.access_token_ttl,
        refresh_ttl=settings.refresh_token_ttl,
    )
    auth_server = GatewayAuthorizationServer(
        strict=settings.is_strict,
        registry=registry,
        store=oauth_store,
        consents=consent_store,
        issuer=issuer,
        verifier=verifier,
        scopes=list(ALL_SCOPES),
    )
    core, customers = build_core(settings)
    pairwise = Pairwise(secret)
    flow = AuthorizationFlow(
        issuer=settings.issuer,
        store=oauth_store,
        consents=consent_store,
        core=core,
        pairwise=pairwise,
        code_ttl=settings.authorization_code_ttl,
        par_ttl=settings.par_ttl,
    )
    authentication = AuthenticationPolicy(verifier, dpop, allow_bearer=not settings.is_strict)
    pipeline = Pipeline(
        [authentication, ScopePolicy(), ConsentPolicy(ConsentCache(consent_store, revocations))]
    )
    return Services(
        settings=settings,
        db=db,
        catalog=catalog,
        keys=keys,
        registry=registry,
        oauth_store=oauth_store,
        consents=consent_store,
        revocations=revocations,
        revocation_feed=RevocationFeed(db, revocations, settings.revocation_poll_interval),
        dpop=dpop,
        auth_server=auth_server,
        flow=flow,
        pipeline=pipeline,
        core=core,
        pairwise=pairwise,
        customers=customers,
        secret=secret,
        redis=redis_client,
    )


def _install_error_handlers(app: FastAPI) -> None:
    def respond(request: Request, error: errors.ProblemError) -> Response:
        return errors.problem_response(
            error, request_id_of(request.scope), request.headers.get("accept-language")
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
        field_errors = []
        malformed = False
        for item in exc.errors():
            if item.get("type") in ("json_invalid", "model_attributes_type"):
                malformed = True
            location = [str(p) for p in item.get("loc", ()) if p not in ("body",)]
            field_errors.append(errors.FieldError(".".join(location), str(item.get("msg", ""))))
        if malformed:
            error: errors.ProblemError = errors.InvalidRequestError(
                "the body must be a JSON object (Content-Type: application/json)",
                errors=field_errors,
            )
        else:
            error = errors.ValidationFailedError(
                "the request has invalid fields", errors=field_errors
            )
        return respond(request, error)

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


def _declare_products(services: Services, routes: list[BaseRoute]) -> None:
    """Check every guarded route's product against the catalogue and tag its operation.

    A missing product stops the start-up; the OpenAPI operation carries the product and its
    JR/T 0185 security level.
    """
    guarded = list(guarded_routes(routes))
    missing = {product for _, product in guarded} - set(services.catalog.products)
    if missing:
        source = services.settings.policy_file or "packaged"
        raise CatalogError(
            f"the product catalogue ({source}) lacks products that routes need: "
            f"{', '.join(sorted(missing))}"
        )
    for route, name in guarded:
        product = services.catalog.product(name)
        route.openapi_extra = {
            **(route.openapi_extra or {}),
            "x-api-product": name,
            "x-security-level": product.level.value,
        }


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the gateway for `settings` (from the environment when omitted)."""
    settings = settings or Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    services = build_services(settings)
    housekeeper = Housekeeper({"oauth_state": services.oauth_store.purge_expired})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services.db.is_sqlite:
            await services.db.upgrade()
        await services.revocation_feed.start()
        housekeeper.start()
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
            await housekeeper.stop()
            await services.revocation_feed.stop()
            if services.redis is not None:
                await services.redis.aclose()
            await services.db.dispose()

    app = FastAPI(
        title="obgw open-banking gateway",
        version=VERSION,
        summary="Account, payment, deposit, loan and wealth capabilities for scene partners.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.services = services
    _install_error_handlers(app)
    # Hot data routes first: FastAPI matches included routers in order.
    routers = [
        accounts.router,
        catalogue.router,
        consents.router,
        oauth_routes.router,
        oauth_pages.router,
        health.router,
        portal.router,
    ]
    if settings.is_sandbox:
        authentication = services.pipeline.policies[0]
        assert isinstance(authentication, AuthenticationPolicy)
        routers.append(build_router(GatewaySandboxPort(services, authentication)))
    for router in routers:
        app.include_router(router)
    _declare_products(services, [route for router in routers for route in router.routes])
    app.add_middleware(PipelineResponseMiddleware, pipeline=services.pipeline)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    return app
