"""The OpenAPI 3.1 document: FastAPI's, completed from the product catalogue.

FastAPI describes parameters, bodies and success responses from the routes' types. What the
pipeline adds to every operation is derived here from its API product, in one place:

- `x-api-product`, `x-security-level` and the security requirement (scopes, DPoP, client
  authentication) of the product's `access`;
- every problem the operation can answer, as `application/problem+json` (the OAuth endpoints'
  errors as `application/json` with the RFC 6749 members) — the ones every request may meet
  (`500`; `400`/`422` with parameters or a body; `413` with a body, `415` with a JSON body;
  `401`/`403` with a token) and those a route names (`product(..., problems=[404, 501])`);
- the `X-Request-ID` and `x-fapi-interaction-id` headers on every response, and
  `Cache-Control: no-store` on the answers of A2 operations and those declared `no_store`;
- an example for every response and request body, taken from the models' examples.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, TypeAdapter

from gateway.errors import PROBLEM_TITLES
from gateway.http.routing import NO_STORE_KEY
from gateway.http.schemas import Problem
from gateway.oauth.schemas import (
    OAuthProblem,
    PushedAuthorizationRequest,
    TokenHintRequest,
    TokenRequest,
)
from gateway.services import Services
from policies.catalog import Access, Catalog, Product, SecurityLevel
from policies.vocabulary import CUSTOMER_SCOPES, OPS_SCOPES, PARTNER_SCOPES

PROBLEMS_KEY = "x-problems"
FORMS: tuple[type[BaseModel], ...] = (TokenRequest, PushedAuthorizationRequest, TokenHintRequest)
PROBLEM_TYPE = "application/problem+json"
REF = "#/components/schemas/{model}"

# status -> (codes a partner may see, what it means)
STATUSES: dict[int, tuple[tuple[str, ...], str]] = {
    400: (("invalid-request",), "The request is malformed (e.g. a bad cursor or JSON)."),
    401: (
        (
            "invalid-token",
            "token-expired",
            "token-revoked",
            "client-revoked",
            "consent-expired",
            "consent-revoked",
            "consent-consumed",
            "invalid-dpop-proof",
            "use-dpop-nonce",
        ),
        "Credentials are missing, invalid, expired or revoked, or the consent behind them "
        "ended: `token-*` means get a new token, `consent-*` ask the customer again.",
    ),
    403: (
        ("insufficient-scope", "consent-insufficient"),
        "The token's scope or the consent does not cover this request.",
    ),
    404: (("not-found",), "No such resource for this caller (or not under this consent)."),
    406: (("not-acceptable",), "None of the formats the Accept header asks for is offered."),
    409: (
        ("idempotency-key-in-flight", "bill-not-open", "bill-payment-pending"),
        "A request with this idempotency key is in progress, or the resource's state does "
        "not allow the operation.",
    ),
    413: (("payload-too-large",), "The body is over 64 KiB."),
    415: (("unsupported-media-type",), "The body is not JSON (Content-Type: application/json)."),
    422: (("validation-failed",), "A field is invalid; `errors` names each one."),
    429: (("rate-limited",), "Too many requests; retry after `Retry-After` seconds."),
    500: (("internal-error",), "An unexpected error; quote the request id (`instance`)."),
    501: (("capability-not-supported",), "This bank's core does not offer the capability."),
    503: (("core-unavailable",), "The core is unavailable; retry after `Retry-After` seconds."),
    504: (("core-timeout",), "The core did not answer in time."),
}
RESPONSE_HEADERS = {
    "X-Request-ID": {
        "description": "The request id (echoed when the client sent a safe one).",
        "schema": {"type": "string"},
    },
    "x-fapi-interaction-id": {
        "description": "The FAPI interaction id (echoed, or generated).",
        "schema": {"type": "string"},
    },
}
EXTRA_HEADERS = {
    "WWW-Authenticate": {
        "description": "The challenge: `Bearer` or `DPoP` with `error` (RFC 6750 §3, RFC 9449 §7).",
        "schema": {"type": "string"},
    },
    "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}},
    "DPoP-Nonce": {
        "description": "A server nonce to put in the next DPoP proof (RFC 9449 §8).",
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "description": "`no-store`: the answer carries customer data or credentials, which no "
        "cache may keep.",
        "schema": {"type": "string"},
    },
}
HEADERS_BY_STATUS = {
    401: ["WWW-Authenticate", "DPoP-Nonce"],
    429: ["Retry-After"],
    503: ["Retry-After"],
}


def problems(*statuses: int) -> list[int]:
    """The problem statuses a route answers beyond those its product implies."""
    return list(statuses)


def form_body(model: type[BaseModel]) -> dict[str, Any]:
    """An operation's form-encoded request body, described by `model` (one of `FORMS`)."""
    assert model in FORMS, f"add {model.__name__} to FORMS"
    schema = {"$ref": REF.format(model=model.__name__)}
    return {
        "requestBody": {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": schema}},
        }
    }


def install_openapi(app: FastAPI, services: Services) -> None:
    """Replace `app.openapi` with one that builds (once) the completed document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=DESCRIPTION,
                routes=app.routes,
                servers=[{"url": services.settings.issuer}],
            )
            app.openapi_schema = complete(
                document,
                services.catalog,
                services.settings.issuer,
                strict=services.settings.is_strict,
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


DESCRIPTION = """\
The capability API of a regional bank for its city's scene partners: accounts, payments and
bill collection, deposits, loans and wealth.

Partner-level calls use client-credentials tokens; customer data needs a consent that the
customer authorises (pushed authorization request, PKCE S256, DPoP). Every error is an RFC 9457
problem document (`application/problem+json`); `Accept-Language: zh-CN` gives Chinese texts.
The OAuth endpoints answer errors as JSON carrying both the RFC 6749 and RFC 9457 members.
"""


def complete(
    document: dict[str, Any], catalog: Catalog, issuer: str, *, strict: bool
) -> dict[str, Any]:
    """`document` with security, problems, headers and examples added (see the module docs)."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    models: tuple[Any, ...] = (Problem, OAuthProblem, *FORMS)
    for model in models:
        _add_model(schemas, model)
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    components["securitySchemes"] = _security_schemes(issuer, strict=strict)
    components["headers"] = {**RESPONSE_HEADERS, **EXTRA_HEADERS}
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            product = catalog.product(operation["x-api-product"])
            operation["x-security-level"] = product.level.value
            operation["security"] = _security(product, strict=strict)
            is_no_store = operation.pop(NO_STORE_KEY, False) or product.level is SecurityLevel.A2
            _add_problems(operation, product)
            _add_headers(operation, is_no_store=is_no_store)
            _add_examples(operation, schemas)
    return document


def _add_model(schemas: dict[str, Any], model: Any) -> None:
    schema = TypeAdapter(model).json_schema(ref_template=REF)
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas[model.__name__] = schema


def _security_schemes(issuer: str, *, strict: bool) -> dict[str, Any]:
    def scopes(names: tuple[str, ...]) -> dict[str, str]:
        return {name: f"The `{name}` scope." for name in names}

    schemes: dict[str, Any] = {
        "oauth2": {
            "type": "oauth2",
            "description": (
                "OAuth 2.0 / FAPI 2.0. Partner-level scopes by client credentials; customer "
                "scopes by the authorization code flow with a consent: pushed authorization "
                "request (required), PKCE S256, the customer's approval at /oauth/authorize. "
                "Clients authenticate with private_key_jwt"
                + ("" if strict else ", or client_secret_basic / client_secret_post")
                + f". Metadata: {issuer}/.well-known/oauth-authorization-server"
            ),
            "flows": {
                "clientCredentials": {
                    "tokenUrl": f"{issuer}/oauth/token",
                    "scopes": scopes(PARTNER_SCOPES + OPS_SCOPES),
                },
                "authorizationCode": {
                    "authorizationUrl": f"{issuer}/oauth/authorize",
                    "tokenUrl": f"{issuer}/oauth/token",
                    "refreshUrl": f"{issuer}/oauth/token",
                    "scopes": scopes(CUSTOMER_SCOPES),
                },
            },
        },
        "dpop": {
            "type": "http",
            "scheme": "DPoP",
            "description": (
                "A DPoP-bound access token (RFC 9449): `Authorization: DPoP <token>` with a "
                "`DPoP` header carrying a fresh proof (ES256 or PS256) for this method and URL, "
                "with `ath` = the token's hash."
            ),
        },
    }
    if not strict:
        schemes["clientSecretBasic"] = {
            "type": "http",
            "scheme": "basic",
            "description": "The client's id and secret (baseline profile).",
        }
    return schemes


def _security(product: Product, *, strict: bool) -> list[dict[str, list[str]]]:
    scopes = [product.scope] if product.scope else []
    if product.access is Access.PUBLIC:
        return []
    if product.access is Access.CLIENT:
        # Client authentication in the body (private_key_jwt, client_secret_post) needs no
        # header; client_secret_basic uses the Authorization header.
        return [{}] if strict else [{"clientSecretBasic": []}, {}]
    token = (
        [{"oauth2": scopes, "dpop": scopes}] if strict else [{"oauth2": scopes}, {"dpop": scopes}]
    )
    if product.access is Access.TOKEN_OR_SECRET and not strict:
        return [*token, {"clientSecretBasic": []}]
    return token


def _statuses(operation: dict[str, Any], product: Product) -> set[int]:
    statuses = {500, *operation.pop(PROBLEMS_KEY, [])}
    has_body = "requestBody" in operation
    if product.access is Access.CLIENT:
        # The OAuth endpoints read their forms themselves: every error is an OAuth 400/401.
        return statuses | {400, 401, 413}
    if operation.get("parameters") or has_body:
        statuses |= {400, 422}
    if has_body:
        statuses.add(413)
        if "application/json" in operation["requestBody"].get("content", {}):
            statuses.add(415)
    if product.takes_token:
        statuses |= {400, 401}
        if product.access is Access.TOKEN:
            statuses.add(403)
    if product.requires_consent:
        statuses.add(404)
    return statuses


def _add_problems(operation: dict[str, Any], product: Product) -> None:
    responses = operation.setdefault("responses", {})
    oauth = product.access is Access.CLIENT
    for status in sorted(_statuses(operation, product)):
        codes, meaning = STATUSES[status]
        key = str(status)
        example = _problem_example(status, codes[0], meaning)
        if oauth and status in (400, 401):
            error = "invalid_request" if status == 400 else "invalid_client"
            code = error.replace("_", "-")
            if status == 401:
                meaning = "The client could not be authenticated: see error_description."
            example = _problem_example(status, code, meaning)
            oauth_example = {"error": error, "error_description": meaning, **example}
            content = {
                "application/json": {
                    "schema": {"$ref": REF.format(model="OAuthProblem")},
                    "example": oauth_example,
                }
            }
            description = "An OAuth error (RFC 6749 §5.2) with the RFC 9457 members."
            if status == 400:
                description += " `use_dpop_nonce` comes with a `DPoP-Nonce` header."
                existing = responses.setdefault(key, {}).setdefault("headers", {})
                existing["DPoP-Nonce"] = {"$ref": "#/components/headers/DPoP-Nonce"}
        else:
            content = {
                PROBLEM_TYPE: {"schema": {"$ref": REF.format(model="Problem")}, "example": example}
            }
            description = f"{meaning} Problem codes: {', '.join(codes)}."
        existing = responses.get(key)
        if existing is not None and "content" in existing and status < 500 and not oauth:
            # FastAPI's own 422 describes a shape the gateway never sends: replace it.
            existing.pop("content", None)
        entry = responses.setdefault(key, {})
        entry["description"] = description
        entry.setdefault("content", {}).update(content)
        for header in HEADERS_BY_STATUS.get(status, []):
            entry.setdefault("headers", {})[header] = {"$ref": f"#/components/headers/{header}"}
    operation["responses"] = dict(sorted(responses.items()))


def _problem_example(status: int, code: str, detail: str) -> dict[str, Any]:
    return {
        "type": f"/problems/{code}",
        "title": PROBLEM_TITLES[code][0],
        "status": status,
        "detail": detail,
        "instance": "9d4c1f0e-6a1b-4c55-9a43-0c2f7f6f9b1e",
        "code": code,
    }


def _add_headers(operation: dict[str, Any], *, is_no_store: bool) -> None:
    for status, response in operation.get("responses", {}).items():
        headers = response.setdefault("headers", {})
        for name in RESPONSE_HEADERS:
            headers[name] = {"$ref": f"#/components/headers/{name}"}
        if is_no_store and status.startswith("2"):
            headers["Cache-Control"] = {"$ref": "#/components/headers/Cache-Control"}


def _add_examples(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    for response in operation.get("responses", {}).values():
        for media in response.get("content", {}).values():
            example = _example(media.get("schema", {}), schemas)
            if example is not None:
                media.setdefault("example", example)
    body = operation.get("requestBody", {})
    for media in body.get("content", {}).values():
        example = _example(media.get("schema", {}), schemas)
        if example is not None:
            media.setdefault("example", example)


def _example(schema: dict[str, Any], schemas: dict[str, Any], depth: int = 0) -> Any:
    """The first example of a schema, composing lists (`{data: [...]}`) from their items."""
    if depth > 4:
        return None
    ref = schema.get("$ref")
    if ref:
        return _example(schemas.get(ref.rsplit("/", 1)[-1], {}), schemas, depth + 1)
    if schema.get("examples"):
        return copy.deepcopy(schema["examples"][0])
    properties = schema.get("properties", {})
    if "data" in properties and "next_cursor" in properties:
        item = _example(properties["data"].get("items", {}), schemas, depth + 1)
        if item is not None:
            return {"data": [item], "next_cursor": None}
    return None
