"""The authorization server's request forms and JSON answers, for the API description.

The endpoints read their forms strictly themselves (`gateway.oauth.requests.read_form`);
these models describe them to partners and to schema-driven test tools.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, with_config
from typing_extensions import TypedDict

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class _Form(BaseModel):
    # RFC 6749 §3.1 and §3.2: unrecognised parameters are ignored.
    model_config = ConfigDict(extra="allow")


class ClientAuthentication(_Form):
    """Client authentication in the body: `private_key_jwt` (RFC 7523) or, in the baseline
    profile, `client_secret_post`. `client_secret_basic` uses the Authorization header instead.
    """

    client_id: str | None = Field(default=None, max_length=64)
    client_secret: str | None = Field(default=None, max_length=200)
    client_assertion_type: (
        Literal["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"] | None
    ) = None
    client_assertion: str | None = Field(
        default=None, description="A JWT signed with ES256 or PS256, `aud` = the issuer."
    )


class TokenRequest(ClientAuthentication):
    """`POST /oauth/token` (RFC 6749 §4.1.3, §4.4.2, §6)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [{"grant_type": "client_credentials", "scope": "products consents"}]
        },
    )

    grant_type: Literal["client_credentials", "authorization_code", "refresh_token"]
    scope: str | None = Field(default=None, description="Space-separated partner-level scopes.")
    code: str | None = Field(default=None, description="authorization_code: the code.")
    redirect_uri: str | None = Field(default=None, description="authorization_code: as pushed.")
    code_verifier: str | None = Field(
        default=None, min_length=43, max_length=128, description="authorization_code: PKCE."
    )
    refresh_token: str | None = Field(default=None, description="refresh_token: the token.")


class PushedAuthorizationRequest(ClientAuthentication):
    """`POST /oauth/par` (RFC 9126): the authorization request, pushed before the redirect."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "response_type": "code",
                    "client_id": "cli_4kq7mz2n3v5w6x7y",
                    "redirect_uri": "https://school.example/callback",
                    "scope": "accounts",
                    "state": "af0ifjsldkj",
                    "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                    "code_challenge_method": "S256",
                    "consent_id": "cns_tq3vqz6k2n7w4d5fxyabc2e",
                }
            ]
        },
    )

    response_type: Literal["code"]
    redirect_uri: str = Field(description="One of the client's registered redirect URIs.")
    scope: str = Field(description="The customer scope of the consent, e.g. `accounts`.")
    state: str | None = Field(default=None, max_length=512)
    code_challenge: str = Field(pattern=r"^[A-Za-z0-9\-._~]{43,128}$")
    code_challenge_method: Literal["S256"]
    consent_id: str = Field(description="The consent the customer is asked to authorise.")
    dpop_jkt: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{43}$",
        description="Binds the code to this DPoP key thumbprint (RFC 9449 §10).",
    )


class TokenHintRequest(ClientAuthentication):
    """`POST /oauth/revoke` (RFC 7009) and `POST /oauth/introspect` (RFC 7662)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{"token": "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9"}]},
    )

    token: str
    token_type_hint: str | None = Field(
        default=None,
        description="`access_token` or `refresh_token`: where to look first. A wrong or "
        "unknown hint is not an error; the token is found whatever its type "
        "(RFC 7009 §2.1, RFC 7662 §2.1).",
    )


@with_config(
    ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0",
                    "token_type": "DPoP",
                    "expires_in": 300,
                    "scope": "accounts",
                    "refresh_token": "q3Jw4n1bV8x2mK7sL0pZ9tY6uR5eW3aQ",
                }
            ]
        }
    )
)
class TokenResponse(TypedDict):
    """An issued access token (RFC 6749 §5.1; `token_type: DPoP` when bound, RFC 9449)."""

    access_token: Annotated[str, Field(description="An RFC 9068 JWT (ES256 or PS256).")]
    token_type: Literal["Bearer", "DPoP"]
    expires_in: int
    scope: str
    refresh_token: NotRequired[
        Annotated[
            str, Field(description="Customer-consented grants only; expires with the consent.")
        ]
    ]


@with_config(
    ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "request_uri": "urn:ietf:params:oauth:request_uri:Zm9vYmFyYmF6",
                    "expires_in": 90,
                }
            ]
        }
    )
)
class PushedAuthorizationResponse(TypedDict):
    request_uri: Annotated[str, Field(description="Single use; pass it to /oauth/authorize.")]
    expires_in: Annotated[int, Field(le=90)]


@with_config(ConfigDict(extra="forbid", json_schema_extra={"examples": [{}]}))
class Revoked(TypedDict):
    """RFC 7009 §2.2: the same empty answer whether or not the token was known."""


@with_config(
    ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "active": True,
                    "token_type": "DPoP",
                    "client_id": "cli_4kq7mz2n3v5w6x7y",
                    "scope": "accounts",
                    "sub": "psu_x5k2m7qz3v4n6w8d2f5h7j3k4l",
                    "exp": 1795000000,
                    "iss": "https://api.bank.example",
                    "jti": "at_4kq7mz2n3v5w6x7y2a3b4c5d",
                    "partner_id": "ptn_4kq7mz2n3v5w6x7y2a3b",
                    "consent_id": "cns_tq3vqz6k2n7w4d5fxyabc2e",
                    "cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
                }
            ]
        }
    )
)
class Introspection(TypedDict):
    """RFC 7662 §2.2; only `active` when the token is unknown, expired or someone else's."""

    active: bool
    token_type: NotRequired[str]
    client_id: NotRequired[str]
    scope: NotRequired[str]
    sub: NotRequired[str]
    exp: NotRequired[int]
    iss: NotRequired[str]
    jti: NotRequired[str]
    partner_id: NotRequired[str]
    consent_id: NotRequired[str]
    cnf: NotRequired[dict[str, str]]


@with_config(
    ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": "invalid_client",
                    "error_description": "The client secret is wrong for this client_id: "
                    "check it, or ask the bank for a new one.",
                    "type": "/problems/invalid-client",
                    "title": "Client authentication failed",
                    "status": 401,
                    "detail": "The client secret is wrong for this client_id: check it, or ask "
                    "the bank for a new one.",
                    "instance": "9d4c1f0e-6a1b-4c55-9a43-0c2f7f6f9b1e",
                    "code": "invalid-client",
                }
            ]
        }
    )
)
class OAuthProblem(TypedDict):
    """An OAuth error: the RFC 6749 members that OAuth libraries read, and RFC 9457's."""

    error: str
    error_description: str
    type: str
    title: str
    status: int
    detail: str
    instance: str
    code: str


@with_config(
    ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "issuer": "https://api.bank.example",
                    "authorization_endpoint": "https://api.bank.example/oauth/authorize",
                    "token_endpoint": "https://api.bank.example/oauth/token",
                    "pushed_authorization_request_endpoint": "https://api.bank.example/oauth/par",
                    "require_pushed_authorization_requests": True,
                    "jwks_uri": "https://api.bank.example/oauth/jwks",
                    "revocation_endpoint": "https://api.bank.example/oauth/revoke",
                    "introspection_endpoint": "https://api.bank.example/oauth/introspect",
                    "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                    "token_endpoint_auth_signing_alg_values_supported": ["ES256", "PS256"],
                    "revocation_endpoint_auth_methods_supported": ["private_key_jwt"],
                    "revocation_endpoint_auth_signing_alg_values_supported": ["ES256", "PS256"],
                    "introspection_endpoint_auth_methods_supported": ["private_key_jwt"],
                    "introspection_endpoint_auth_signing_alg_values_supported": [
                        "ES256",
                        "PS256",
                    ],
                    "dpop_signing_alg_values_supported": ["ES256", "PS256"],
                }
            ]
        },
        extra="allow",
    )
)
class ServerMetadata(TypedDict):
    """RFC 8414 authorization server metadata."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    pushed_authorization_request_endpoint: str
    require_pushed_authorization_requests: bool
    jwks_uri: str
    revocation_endpoint: str
    introspection_endpoint: str
    token_endpoint_auth_methods_supported: list[str]
    token_endpoint_auth_signing_alg_values_supported: list[str]
    revocation_endpoint_auth_methods_supported: list[str]
    revocation_endpoint_auth_signing_alg_values_supported: list[str]
    introspection_endpoint_auth_methods_supported: list[str]
    introspection_endpoint_auth_signing_alg_values_supported: list[str]
    dpop_signing_alg_values_supported: list[str]


@with_config(
    ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "keys": [
                        {
                            "kty": "EC",
                            "crv": "P-256",
                            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
                            "kid": "k1795000000-1a2b3c4d",
                            "alg": "ES256",
                            "use": "sig",
                        }
                    ]
                }
            ]
        }
    )
)
class JsonWebKeySet(TypedDict):
    """The public keys that sign access tokens (RFC 7517)."""

    keys: list[dict[str, Any]]
