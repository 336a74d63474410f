"""authlib's grant machinery, bridged to FastAPI and our async storage.

authlib's server side is synchronous: the token, revocation and introspection endpoints
run it in a worker thread (`run_in_threadpool`), and its hooks reach the async stores
with `anyio.from_thread.run`. What authlib lacks (PAR, DPoP, S256-only PKCE, algorithm
policy) is written here and in `policies.dpop`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio.from_thread
from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Request, grants
from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from gateway.consents import ConsentStatus, ConsentStore
from gateway.oauth.store import AuthorizationCode, OAuthStore, RefreshToken
from gateway.oauth.tokens import Subject, TokenIssuer
from gateway.registry import (
    CUSTOMER_SCOPES,
    OPS_SCOPES,
    PARTNER_SCOPES,
    Client,
    Registry,
)
from policies.authentication import AccessTokenVerifier
from policies.errors import InvalidTokenError

T = TypeVar("T")
CLIENT_ASSERTION_ALGS = ["ES256", "PS256"]


@dataclass(frozen=True, slots=True)
class FoundToken:
    """A token located for revocation or introspection."""

    kind: str  # access_token | refresh_token
    value: Any  # the verified AccessGrant, or the refresh token string
    client_id: str

    def check_client(self, client: OAuthClient) -> bool:
        return self.client_id == client.get_client_id()


def _sync(fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
    """Run an async store call from authlib's worker thread."""
    return anyio.from_thread.run(fn, *args)


class OAuthClient(ClientMixin):  # type: ignore[misc]
    """A registered client as authlib sees it."""

    def __init__(self, client: Client, *, strict: bool) -> None:
        self.client = client
        self.strict = strict

    def get_client_id(self) -> str:
        return self.client.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.client.redirect_uris[0] if self.client.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = set(self.client.scopes)
        if not scope:
            return " ".join(s for s in self.client.scopes if s not in CUSTOMER_SCOPES)
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.client.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return self.client.check_secret(client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.strict:
            return method == "private_key_jwt" == self.client.auth_method
        if self.client.auth_method == "private_key_jwt":
            return method == "private_key_jwt"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "client_credentials":
            return True
        is_customer = bool(set(self.client.scopes) & set(CUSTOMER_SCOPES))
        return self.client.kind == "partner" and is_customer and bool(self.client.redirect_uris)


class GatewayOAuth2Request(OAuth2Request):  # type: ignore[misc]
    """An already-parsed HTTP request, with the DPoP key thumbprint the route verified."""

    def __init__(
        self,
        method: str,
        uri: str,
        form: Mapping[str, str],
        headers: Mapping[str, str],
        dpop_jkt: str | None,
    ) -> None:
        super().__init__(method, uri, headers=headers)
        self._form = dict(form)
        self.payload = BasicOAuth2Payload(self._form)
        self.dpop_jkt = dpop_jkt

    @property
    def args(self) -> dict[str, str]:
        return {}

    @property
    def form(self) -> dict[str, str]:
        return self._form


class PrivateKeyJWT(JWTBearerClientAssertion):  # type: ignore[misc]
    """`private_key_jwt` (RFC 7523): `aud` must be the issuer, `jti` is single-use,
    and only ES256/PS256 signatures count (authlib's default would allow RS256/HS256)."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, issuer: str, store: OAuthStore) -> None:
        super().__init__(validate_jti=True, leeway=30)
        self.issuer = issuer
        self.store = store

    def get_audiences(self) -> list[str]:
        return [self.issuer]

    def resolve_client_public_key(self, client: OAuthClient) -> KeySet:
        if not client.client.jwks:
            raise InvalidClientError(description="the client has no registered keys")
        return KeySet.import_key_set(client.client.jwks)  # type: ignore[arg-type]

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> dict[str, Any]:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=CLIENT_ASSERTION_ALGS)
        except (JoseError, ValueError) as exc:
            raise InvalidClientError(description="the client assertion is invalid") from exc
        claims = dict(token.claims)
        exp, iat = claims.get("exp"), claims.get("iat", time.time())
        if not isinstance(exp, int) or not isinstance(iat, int | float) or exp - iat > 3660:
            raise InvalidClientError(description="client assertions must expire within an hour")
        self.verify_claims(token.claims)
        return claims

    def validate_jti(self, claims: Mapping[str, Any], jti: str) -> bool:
        # Remember the jti for as long as the assertion could still be accepted.
        ttl = max(int(claims["exp"] - time.time()), 0) + self.leeway + 1
        return _sync(self.store.first_use, f"assertion:{claims['sub']}:{jti}", ttl)


def _token_auth_methods(strict: bool) -> list[str]:
    if strict:
        return ["private_key_jwt"]
    return ["private_key_jwt", "client_secret_basic", "client_secret_post"]


class S256CodeChallenge(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256 only, required for every client (FAPI 2.0)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'")
        super().validate_code_verifier(grant, result)


class _IssuesGatewayTokens:
    """Grant mix-in: tokens come from our `TokenIssuer`, bound to the request's DPoP key."""

    request: GatewayOAuth2Request
    server: GatewayAuthorizationServer
    GRANT_TYPE: str

    def generate_token(
        self,
        user: Subject | None = None,
        scope: str | None = None,
        grant_type: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        client: OAuthClient = self.request.client
        subject = user or Subject(
            sub=client.get_client_id(), partner_id=client.client.partner_id or "ops"
        )
        return _sync(
            lambda: self.server.issuer.issue(
                client_id=client.get_client_id(),
                subject=subject,
                scope=scope or "",
                jkt=self.request.dpop_jkt,
                include_refresh_token=include_refresh_token,
            )
        )

    def check_dpop_binding(self, bound_jkt: str | None) -> None:
        if bound_jkt is not None and self.request.dpop_jkt != bound_jkt:
            raise InvalidGrantError(
                "this grant is bound to a DPoP key: present a proof signed by that key"
            )


class ClientCredentialsGrant(_IssuesGatewayTokens, grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = _token_auth_methods(True)

    def validate_token_request(self) -> None:
        super().validate_token_request()
        client: OAuthClient = self.request.client
        requested = (self.request.payload.scope or "").split()
        level = OPS_SCOPES if client.client.kind == "ops" else PARTNER_SCOPES
        if any(s not in level or s not in client.client.scopes for s in requested):
            raise InvalidScopeError(
                "client credentials grant only the client's own partner-level scopes; "
                "customer scopes need the authorization code flow with a consent"
            )
        self.request.payload.data["scope"] = client.get_allowed_scope(" ".join(requested) or None)


class AuthorizationCodeGrant(_IssuesGatewayTokens, grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = _token_auth_methods(True)

    def query_authorization_code(self, code: str, client: OAuthClient) -> AuthorizationCode | None:
        store = self.server.store
        record = _sync(store.get_code, code)
        if record is None or record.client_id != client.get_client_id():
            return None
        if record.used_at is not None or not _sync(store.mark_code_used, code):
            # RFC 6749 §4.1.2: a reused code revokes what its first use issued. The flag is
            # set before revoking; the first use checks it after recording its tokens, so
            # one of the two always sees the other, even when they race.
            _sync(store.flag_code_reuse, code)
            _sync(store.revoke_grant, record.grant_id)
            raise InvalidGrantError("the authorization code was already used")
        if record.expires_at <= datetime.now(UTC):
            raise InvalidGrantError("the authorization code has expired")
        self.check_dpop_binding(record.dpop_jkt)
        if self.server.strict and self.request.dpop_jkt is None:
            raise InvalidRequestError("DPoP is required in the strict profile")
        return record

    def create_token_response(self) -> tuple[int, Any, Any]:
        result: tuple[int, Any, Any] = super().create_token_response()
        code = self.request.form["code"]
        if _sync(self.server.store.is_code_reused, code):
            _sync(self.server.store.revoke_grant, self.request.authorization_code.grant_id)
            raise InvalidGrantError("the authorization code was already used")
        return result

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        return None  # marked used in query_authorization_code, kept for reuse detection

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Subject | None:
        return self.server.subject_for(
            authorization_code.consent_id,
            authorization_code.grant_id,
            authorization_code.customer_ref,
        )


class RefreshTokenGrant(_IssuesGatewayTokens, grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = _token_auth_methods(True)
    INCLUDE_NEW_REFRESH_TOKEN = False  # FAPI 2.0: no rotation

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        record = _sync(self.server.store.get_refresh_token, refresh_token)
        if record is None or not record.is_active:
            return None
        self.check_dpop_binding(record.dpop_jkt)
        return record

    def authenticate_user(self, refresh_token: RefreshToken) -> Subject | None:
        return self.server.subject_for(
            refresh_token.consent_id, refresh_token.grant_id, refresh_token.customer_ref
        )

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        return None


class GatewayRevocationEndpoint(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009 for our JWT access tokens and opaque refresh tokens."""

    CLIENT_AUTH_METHODS = _token_auth_methods(True)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return self.server.find_token(token_string, token_type_hint)

    def revoke_token(self, token: FoundToken, request: Any) -> None:
        if token.kind == "access_token":
            _sync(self.server.store.revoke_access_token, token.value.token_id)
        else:
            _sync(self.server.store.revoke_refresh_token, token.value)


class GatewayIntrospectionEndpoint(IntrospectionEndpoint):  # type: ignore[misc]
    """RFC 7662: a client may introspect its own tokens; ops clients any token."""

    CLIENT_AUTH_METHODS = _token_auth_methods(True)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return self.server.find_token(token_string, token_type_hint)

    def check_permission(self, token: FoundToken, client: OAuthClient, request: Any) -> bool:
        return client.client.kind == "ops" or token.check_client(client)

    def create_introspection_payload(self, token: FoundToken | None) -> dict[str, Any]:
        if token is None:
            return {"active": False}
        if token.kind == "access_token":
            grant = token.value
            body: dict[str, Any] = {
                "active": True,
                "token_type": "DPoP" if grant.jkt else "Bearer",
                "client_id": grant.client_id,
                "scope": " ".join(sorted(grant.scopes)),
                "sub": grant.subject,
                "exp": grant.expires_at,
                "iss": self.server.issuer.issuer,
                "jti": grant.token_id,
                "partner_id": grant.partner_id,
            }
            if grant.consent_id:
                body["consent_id"] = grant.consent_id
            if grant.jkt:
                body["cnf"] = {"jkt": grant.jkt}
            return body
        record: RefreshToken | None = _sync(self.server.store.get_refresh_token, token.value)
        if record is None or not record.is_active:
            return {"active": False}
        return {
            "active": True,
            "token_type": "refresh_token",
            "client_id": token.client_id,
            "scope": record.scope,
            "exp": int(record.expires_at.timestamp()),
        }


class GatewayAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    """The authlib server, configured for one profile (strict or baseline)."""

    def __init__(
        self,
        *,
        strict: bool,
        registry: Registry,
        store: OAuthStore,
        consents: ConsentStore,
        issuer: TokenIssuer,
        verifier: AccessTokenVerifier,
        scopes: list[str],
    ) -> None:
        super().__init__(scopes_supported=scopes)
        self.strict = strict
        self.registry = registry
        self.store = store
        self.consents = consents
        self.issuer = issuer
        self.verifier = verifier
        methods = _token_auth_methods(strict)
        grant_classes: list[tuple[type[Any], list[Any] | None]] = [
            (ClientCredentialsGrant, None),
            (AuthorizationCodeGrant, [S256CodeChallenge(required=True)]),
            (RefreshTokenGrant, None),
        ]
        for grant_cls, extensions in grant_classes:
            configured = type(
                grant_cls.__name__, (grant_cls,), {"TOKEN_ENDPOINT_AUTH_METHODS": methods}
            )
            self.register_grant(configured, extensions)
        for endpoint_cls in (GatewayRevocationEndpoint, GatewayIntrospectionEndpoint):
            self.register_endpoint(
                type(endpoint_cls.__name__, (endpoint_cls,), {"CLIENT_AUTH_METHODS": methods})
            )
        self.register_client_auth_method("private_key_jwt", PrivateKeyJWT(issuer.issuer, store))

    # authlib hooks
    def query_client(self, client_id: str) -> OAuthClient | None:
        client = _sync(self.registry.active_client, client_id)
        return OAuthClient(client, strict=self.strict) if client is not None else None

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        return None  # the TokenIssuer records what it issues

    def create_oauth2_request(self, request: GatewayOAuth2Request) -> GatewayOAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, Any]:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    # helpers for the grants
    def subject_for(
        self, consent_id: str | None, grant_id: str, customer_ref: str | None
    ) -> Subject:
        consent = _sync(self.consents.get, consent_id) if consent_id else None
        if consent is None or consent.status is not ConsentStatus.AUTHORISED:
            raise InvalidGrantError("the consent behind this grant is no longer authorised")
        assert consent.psu_id is not None
        return Subject(
            sub=consent.psu_id,
            partner_id=consent.partner_id,
            grant_id=grant_id,
            consent_id=consent.id,
            customer_ref=customer_ref,
            consent_expires_at=consent.expires_at,
        )

    def find_token(self, token: str, hint: str | None) -> FoundToken | None:
        """Locate an active token for revocation or introspection."""
        if hint != "refresh_token" and token.count(".") == 2:
            try:
                grant = self.verifier.verify(token)
            except InvalidTokenError:
                grant = None
            if grant is not None:
                return FoundToken("access_token", grant, grant.client_id)
        record = _sync(self.store.get_refresh_token, token)
        if record is not None and record.is_active:
            return FoundToken("refresh_token", token, record.client_id)
        return None
