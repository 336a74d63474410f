"""OAuth endpoints: metadata, JWKS, PAR, token, revocation, introspection."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749.errors import OAuth2Error
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gateway.deps import Call, CallRoute
from gateway.http.openapi import form_body
from gateway.http.routing import product
from gateway.oauth.clients import GatewayOAuth2Request, OAuthClient
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
        "token_endpoint_auth_methods_supported": methods,
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "PS256"],
        "revocation_endpoint_auth_methods_supported": methods,
        "introspection_endpoint_auth_methods_supported": methods,
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


def _single_client_authentication(request: Request, form: dict[str, str]) -> None:
    """RFC 6749 §2.3: a client uses exactly one authentication method per request."""
    used = [
        "authorization" in request.headers,
        "client_secret" in form,
        "client_assertion" in form or "client_assertion_type" in form,
    ]
    if sum(used) > 1:
        raise OAuthError(
            "invalid_request",
            "use exactly one client authentication method: the Authorization header, "
            "client_secret in the body, or a client assertion",
        )


async def _oauth_request(services: Services, request: Request, path: str) -> GatewayOAuth2Request:
    form = await read_form(request)
    _single_client_authentication(request, form)
    jkt = await _dpop_jkt(services, request, path)
    return GatewayOAuth2Request("POST", services.settings.issuer + path, form, request.headers, jkt)


def _authlib_response(result: tuple[int, Any, Any]) -> Response:
    status, body, headers = result
    extra = {k: v for k, v in (headers or []) if k.lower() != "content-type"}
    return json_response(body, status, extra)


def _refusal(request: Request, status: int, error: str, description: str) -> Response:
    """An OAuth error; RFC 6749 §5.2: 401 when the client tried the Authorization header."""
    headers = {}
    if error == "invalid_client" and "authorization" in request.headers:
        status = 401
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="obgw"'
    return oauth_error_response(request, OAuthError(error, description, status, headers))


def _authlib_error(request: Request, error: OAuth2Error) -> Response:
    return _refusal(
        request, error.status_code or 400, error.error, error.description or error.error
    )


def _authlib_result(request: Request, result: tuple[int, Any, Any]) -> Response:
    status, body, _ = result
    if status >= 400:
        return _refusal(
            request,
            status,
            body.get("error", "invalid_request"),
            body.get("error_description", "the request was refused"),
        )
    return _authlib_response(result)


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
        oauth_request = await _oauth_request(services, call, "/oauth/par")
        methods = AuthMethod.accepted(strict=services.settings.is_strict)
        client = await run_in_threadpool(
            services.auth_server.authenticate_client, oauth_request, methods, "par"
        )
        oauth_request.client = client
        _identify(call, oauth_request)
        pushed = await services.flow.push(client.client, oauth_request.form, oauth_request.dpop_jkt)
    except OAuthError as error:
        return oauth_error_response(call, error)
    except OAuth2Error as error:
        return _authlib_error(call, error)
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
        oauth_request = await _oauth_request(services, call, "/oauth/token")
        if services.settings.is_strict and oauth_request.dpop_jkt is None:
            raise OAuthError("invalid_dpop_proof", "the strict profile requires a DPoP proof")
        if not oauth_request.form.get("grant_type"):
            raise OAuthError("invalid_request", "'grant_type' is required")
        result = await run_in_threadpool(services.auth_server.create_token_response, oauth_request)
    except OAuthError as error:
        return oauth_error_response(call, error)
    _identify(call, oauth_request)
    return _authlib_result(call, result)


def _identify(call: Call, oauth_request: GatewayOAuth2Request) -> None:
    """Name the client authlib authenticated, for the request log and audit."""
    client = getattr(oauth_request, "client", None)
    if isinstance(client, OAuthClient):
        call.exchange.caller = Caller(client.client.client_id, client.client.partner_id)


async def _endpoint(call: Call, name: str, path: str) -> Response:
    services = call.services
    try:
        oauth_request = await _oauth_request(services, call, path)
        result = await run_in_threadpool(
            services.auth_server.create_endpoint_response, name, oauth_request
        )
    except OAuthError as error:
        return oauth_error_response(call, error)
    _identify(call, oauth_request)
    status, body, _ = result
    if status >= 400:
        return oauth_error_response(
            call,
            OAuthError(
                body.get("error", "invalid_request"),
                body.get("error_description", "the request was refused"),
                status,
            ),
        )
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
