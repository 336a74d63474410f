"""OAuth endpoints: metadata, JWKS, PAR, token, revocation, introspection."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gateway.deps import Call, CallRoute
from gateway.http.openapi import form_body
from gateway.http.routing import product
from gateway.oauth import refusals as say
from gateway.oauth.client_auth import ASSERTION_ALGS
from gateway.oauth.clients import GatewayOAuth2Request
from gateway.oauth.requests import OAuthError, json_response, oauth_error_response, read_form
from gateway.oauth.schemas import (
    Introspection,
    JsonWebKeySet,
    PushedAuthorizationRequest,
    PushedAuthorizationResponse,
    Revoked,
    ServerMetadata,
    TokenHintRequest,
    TokenRequest,
    TokenResponse,
)
from gateway.partners.models import AuthMethod
from gateway.partners.redirect_uris import redirect_uri_problem
from gateway.services import Services
from policies.dpop import DPOP_ALGS, DPoPError, UseDPoPNonce, single_header
from policies.pipeline import Caller

router = APIRouter(tags=["OAuth 2.0"], route_class=CallRoute)


def metadata(services: Services) -> dict[str, Any]:
    s = services.settings
    base = s.issuer
    methods = AuthMethod.accepted(strict=s.is_strict)
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "pushed_authorization_request_endpoint": f"{base}/oauth/par",
        # Both profiles: the authorize page only takes pushed requests.
        "require_pushed_authorization_requests": True,
        "jwks_uri": f"{base}/oauth/jwks",
        "revocation_endpoint": f"{base}/oauth/revoke",
        "introspection_endpoint": f"{base}/oauth/introspect",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        # RFC 8414 §2: private_key_jwt at an endpoint needs its signing algorithms listed.
        "token_endpoint_auth_methods_supported": methods,
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGS),
        "revocation_endpoint_auth_methods_supported": methods,
        "revocation_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGS),
        "introspection_endpoint_auth_methods_supported": methods,
        "introspection_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGS),
        "dpop_signing_alg_values_supported": list(DPOP_ALGS),
        "authorization_response_iss_parameter_supported": True,
        "scopes_supported": services.auth_server.scopes_supported,
        "service_documentation": f"{base}/",
    }


@router.get(
    "/.well-known/oauth-authorization-server",
    summary="Authorization server metadata",
    openapi_extra=product("oauth.metadata.read"),
    responses={200: {"model": ServerMetadata, "description": "RFC 8414 metadata."}},
)
async def authorization_server_metadata(call: Call) -> Response:
    """The authorization server's endpoints and capabilities (RFC 8414)."""
    services = call.services
    return json_response(metadata(services), headers={"Cache-Control": "max-age=300"})


@router.get(
    "/oauth/jwks",
    summary="Public signing keys",
    openapi_extra=product("oauth.jwks.read"),
    responses={200: {"model": JsonWebKeySet, "description": "The signing keys in use."}},
)
async def jwks(call: Call) -> Response:
    """The keys that sign access tokens; a rotated key stays until its tokens expire."""
    services = call.services
    return json_response(services.keys.jwks(), headers={"Cache-Control": "max-age=60"})


async def _dpop_jkt(services: Services, request: Request, path: str) -> str | None:
    try:
        proof = single_header(request.headers, "dpop")
        if proof is None:
            return None
        verified = await services.dpop.verify(proof, "POST", services.settings.issuer + path)
    except UseDPoPNonce as exc:
        raise OAuthError(exc.error, exc.detail, headers={"DPoP-Nonce": exc.nonce}) from None
    except DPoPError as exc:
        raise OAuthError(exc.error, exc.detail) from None
    return verified.jkt


async def _oauth_request(
    call: Call, path: str, *, dpop: bool, required: tuple[str, ...] = ()
) -> GatewayOAuth2Request:
    """The form, its client authenticated first (cheap, and before any costly proof check),
    then the DPoP proof where the endpoint binds to one."""
    services = call.services
    form = await read_form(call)
    for name in required:
        if name not in form:
            raise OAuthError("invalid_request", MISSING[name])
    client_auth = services.auth_server.client_auth
    client = await client_auth.authenticate(form, call.headers)
    call.exchange.caller = Caller(client.client_id, client.partner_id)
    jkt = await _dpop_jkt(services, call, path) if dpop else None
    oauth_request = GatewayOAuth2Request(
        "POST", services.settings.issuer + path, form, call.headers, jkt
    )
    oauth_request.client = client_auth.oauth_client(client)
    return oauth_request


MISSING = {
    "grant_type": say.GRANT_TYPE_MISSING,
    "token": say.TOKEN_MISSING,
    "redirect_uri": say.REDIRECT_URI_MISSING,
}


def _authlib_response(result: tuple[int, Any, Any]) -> Response:
    status, body, headers = result
    extra = {k: v for k, v in (headers or []) if k.lower() != "content-type"}
    return json_response(body, status, extra)


@router.post(
    "/oauth/par",
    status_code=201,
    summary="Pushed authorization request (RFC 9126)",
    openapi_extra=product("oauth.par", **form_body(PushedAuthorizationRequest)),
    responses={201: {"model": PushedAuthorizationResponse, "description": "Pushed."}},
)
async def pushed_authorization_request(call: Call) -> Response:
    """Push the authorization request of a consent (PKCE S256 required; `dpop_jkt` or a
    DPoP proof binds the code to a key). The `request_uri` is single use, for 90 s."""
    services = call.services
    try:
        oauth_request = await _oauth_request(
            call, "/oauth/par", dpop=True, required=("redirect_uri",)
        )
        problem = redirect_uri_problem(oauth_request.form["redirect_uri"])
        if problem is not None:  # a URI registered before the rule held
            raise OAuthError("invalid_request", problem)
        client = oauth_request.client.client
        pushed = await services.flow.push(client, oauth_request.form, oauth_request.dpop_jkt)
    except OAuthError as error:
        return oauth_error_response(call, error)
    return json_response(
        {"request_uri": pushed.request_uri, "expires_in": services.settings.par_ttl}, 201
    )


@router.post(
    "/oauth/token",
    summary="Token endpoint",
    openapi_extra=product("oauth.token", **form_body(TokenRequest)),
    responses={200: {"model": TokenResponse, "description": "The access token."}},
)
async def token(call: Call) -> Response:
    """Client credentials, authorization code (PKCE S256, single use, 60 s) and refresh
    token grants. With a `DPoP` proof the tokens are bound to its key (`token_type: DPoP`)."""
    services = call.services
    try:
        oauth_request = await _oauth_request(
            call, "/oauth/token", dpop=True, required=("grant_type",)
        )
        if services.settings.is_strict and oauth_request.dpop_jkt is None:
            raise OAuthError("invalid_dpop_proof", say.DPOP_REQUIRED)
        result = await run_in_threadpool(services.auth_server.create_token_response, oauth_request)
    except OAuthError as error:
        return oauth_error_response(call, error)
    return _authlib_response(result)


async def _endpoint(call: Call, name: str, path: str) -> Response:
    services = call.services
    try:
        oauth_request = await _oauth_request(call, path, dpop=False, required=("token",))
        result = await run_in_threadpool(
            services.auth_server.create_endpoint_response, name, oauth_request
        )
    except OAuthError as error:
        return oauth_error_response(call, error)
    return _authlib_response(result)


@router.post(
    "/oauth/revoke",
    summary="Token revocation (RFC 7009)",
    openapi_extra=product("oauth.revoke", **form_body(TokenHintRequest)),
    responses={200: {"model": Revoked, "description": "Revoked (or never known)."}},
)
async def revoke(call: Call) -> Response:
    """Revoke one of the client's access or refresh tokens; every replica refuses it
    within a second."""
    return await _endpoint(call, "revocation", "/oauth/revoke")


@router.post(
    "/oauth/introspect",
    summary="Token introspection (RFC 7662)",
    openapi_extra=product("oauth.introspect", **form_body(TokenHintRequest)),
    responses={200: {"model": Introspection, "description": "The token's state."}},
)
async def introspect(call: Call) -> Response:
    """Whether a token is active and what it grants: the client's own tokens, or any token
    for an operations client."""
    return await _endpoint(call, "introspection", "/oauth/introspect")
