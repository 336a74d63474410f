"""authlib's authorization server, configured for one profile and bridged to our services.

What authlib lacks (PAR, DPoP, S256-only PKCE, client authentication with one method per
request and bounded cost, the FastAPI bridge) is written in `gateway.oauth` and
`policies.dpop`. Every error authlib still raises is translated here into our own, bilingual.
"""

from __future__ import annotations

from typing import Any, NoReturn

from authlib.oauth2.rfc6749 import AuthorizationServer
from authlib.oauth2.rfc6749.errors import OAuth2Error

from gateway.consents.models import Consent
from gateway.consents.service import ConsentService
from gateway.oauth import refusals as say
from gateway.oauth.client_auth import ClientAuthenticator
from gateway.oauth.clients import GatewayOAuth2Request, OAuthClient, run_async
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
from gateway.oauth.refresh_tokens import RefreshToken
from gateway.oauth.requests import OAuthError
from gateway.oauth.state import OAuthState
from gateway.oauth.tokens import Subject, TokenIssuer
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
        self.registry = registry
        self.state = state
        self.consents = consents
        self.issuer = issuer
        self.verifier = verifier
        self.client_auth = ClientAuthenticator(
            registry, assertions, issuer=issuer.issuer, strict=strict
        )
        self.register_grant(ClientCredentialsGrant)
        self.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
        self.register_grant(RefreshTokenGrant)
        self.register_endpoint(GatewayRevocationEndpoint)
        self.register_endpoint(GatewayIntrospectionEndpoint)

    # authlib hooks
    def query_client(self, client_id: str) -> OAuthClient | None:
        client = run_async(self.registry.active_client, client_id)
        return OAuthClient(client) if client is not None else None

    def authenticate_client(
        self, request: GatewayOAuth2Request, methods: Any, endpoint: str = "token"
    ) -> OAuthClient:
        """The client the endpoint authenticated before authlib ran (`ClientAuthenticator`)."""
        client = getattr(request, "client", None)
        if not isinstance(client, OAuthClient):
            raise RuntimeError("the OAuth endpoints authenticate the client before authlib runs")
        return client

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        return None  # the TokenIssuer records what it issues

    def create_oauth2_request(self, request: GatewayOAuth2Request) -> GatewayOAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, Any]:
        return status, body, headers

    def handle_error_response(self, request: Any, error: OAuth2Error) -> NoReturn:
        """authlib's own errors, in our words (it describes them in English only)."""
        description = say.REFUSED.get(error.error, say.REFUSED_OTHERWISE)
        raise OAuthError(error.error, description, error.status_code or 400)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    # helpers for the grants
    def subject_for(
        self, consent_id: str | None, grant_id: str, customer_ref: str | None
    ) -> Subject:
        """Who the grant's tokens act for, while its consent is authorised."""
        consent = run_async(self.consents.get, consent_id) if consent_id else None
        if consent is None:
            raise OAuthError("invalid_grant", say.CONSENT_REVOKED, code="consent-revoked")
        consent = consent.with_clock()
        if consent.status is not ConsentStatus.AUTHORISED:
            raise consent_refusal(consent)
        assert consent.psu_id is not None
        return Subject(
            sub=consent.psu_id,
            partner_id=consent.partner_id,
            grant_id=grant_id,
            consent_id=consent.id,
            customer_ref=customer_ref,
            consent_expires_at=consent.expires_at,
        )

    def refresh_refusal(self, record: RefreshToken) -> OAuthError:
        """Why an inactive refresh token no longer works: its consent, or the token itself."""
        consent = run_async(self.consents.get, record.consent_id) if record.consent_id else None
        if consent is not None:
            consent = consent.with_clock()
            if consent.status is not ConsentStatus.AUTHORISED:
                return consent_refusal(consent)
        if record.revoked_at is None:
            return OAuthError("invalid_grant", say.REFRESH_EXPIRED, code="token-expired")
        if run_async(self.state.is_grant_reused, record.grant_id):
            return OAuthError("invalid_grant", say.CODE_REUSED, code="token-revoked")
        return OAuthError("invalid_grant", say.REFRESH_REVOKED, code="token-revoked")

    def find_token(self, token: str, hint: str | None) -> FoundToken | None:
        """An active token for revocation or introspection, of either type: the hint only
        says where to look first (RFC 7009 §2.1); an unknown hint is ignored."""
        finders = [self._access_token, self._refresh_token]
        if hint == "refresh_token":
            finders.reverse()
        for find in finders:
            found = find(token)
            if found is not None:
                return found
        return None

    def _access_token(self, token: str) -> FoundToken | None:
        if token.count(".") != 2:
            return None
        try:
            grant = run_async(self.verifier.verify_current, token)
        except InvalidTokenError:
            return None
        return FoundToken("access_token", grant, grant.client_id)

    def _refresh_token(self, token: str) -> FoundToken | None:
        record = run_async(self.state.get_refresh_token, token)
        if record is None or not record.is_active:
            return None
        return FoundToken("refresh_token", token, record.client_id)


def consent_refusal(consent: Consent) -> OAuthError:
    """`invalid_grant` naming what became of the consent: the customer must consent again."""
    if consent.status is ConsentStatus.REVOKED:
        return OAuthError("invalid_grant", say.CONSENT_REVOKED, code="consent-revoked")
    if consent.status is ConsentStatus.EXPIRED:
        return OAuthError("invalid_grant", say.CONSENT_EXPIRED, code="consent-expired")
    if consent.status is ConsentStatus.CONSUMED:
        return OAuthError("invalid_grant", say.CONSENT_CONSUMED, code="consent-consumed")
    description = say.CONSENT_NOT_AUTHORISED.format(status=consent.status.value)
    return OAuthError("invalid_grant", description, code="consent-revoked")
