"""authlib's authorization server, configured for one profile and bridged to our services.

What authlib lacks (PAR, DPoP, S256-only PKCE, algorithm policy, the FastAPI bridge) is
written in `gateway.oauth` and `policies.dpop`.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationServer
from authlib.oauth2.rfc6749.errors import InvalidGrantError

from gateway.consents.service import ConsentService
from gateway.oauth.clients import GatewayOAuth2Request, OAuthClient, PrivateKeyJWT, run_async
from gateway.oauth.endpoints import (
    FoundToken,
    GatewayIntrospectionEndpoint,
    GatewayRevocationEndpoint,
)
from gateway.oauth.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
    S256CodeChallenge,
)
from gateway.oauth.state import OAuthState
from gateway.oauth.tokens import Subject, TokenIssuer
from gateway.partners.models import AuthMethod
from gateway.partners.service import Registry
from policies.access_tokens import AccessTokenVerifier
from policies.errors import InvalidTokenError
from policies.replay import ReplayCache
from policies.vocabulary import ConsentStatus


class GatewayAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    """The authlib server, configured for one profile (strict or baseline)."""

    def __init__(
        self,
        *,
        strict: bool,
        registry: Registry,
        state: OAuthState,
        consents: ConsentService,
        assertions: ReplayCache,
        issuer: TokenIssuer,
        verifier: AccessTokenVerifier,
        scopes: list[str],
    ) -> None:
        super().__init__(scopes_supported=scopes)
        self.strict = strict
        self.registry = registry
        self.state = state
        self.consents = consents
        self.issuer = issuer
        self.verifier = verifier
        methods = AuthMethod.accepted(strict=strict)
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
        self.register_client_auth_method(
            AuthMethod.PRIVATE_KEY_JWT.value, PrivateKeyJWT(issuer.issuer, assertions)
        )

    # authlib hooks
    def query_client(self, client_id: str) -> OAuthClient | None:
        client = run_async(self.registry.active_client, client_id)
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
        consent = run_async(self.consents.get, consent_id) if consent_id else None
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
        record = run_async(self.state.get_refresh_token, token)
        if record is not None and record.is_active:
            return FoundToken("refresh_token", token, record.client_id)
        return None
