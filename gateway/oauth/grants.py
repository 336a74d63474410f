"""The grants: client credentials, authorization code (S256 PKCE) and refresh token.

Tokens come from our `TokenIssuer`, bound to the DPoP key the token request proved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc7636 import CodeChallenge

from gateway.clock import utcnow
from gateway.oauth.clients import GatewayOAuth2Request, OAuthClient, run_async
from gateway.oauth.codes import AuthorizationCode
from gateway.oauth.refresh_tokens import RefreshToken
from gateway.oauth.tokens import Subject
from gateway.partners.models import ClientKind
from policies.vocabulary import OPS_SCOPES, PARTNER_SCOPES

if TYPE_CHECKING:
    from gateway.oauth.server import GatewayAuthorizationServer


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
        return run_async(
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
    def validate_token_request(self) -> None:
        super().validate_token_request()
        client: OAuthClient = self.request.client
        requested = (self.request.payload.scope or "").split()
        level = OPS_SCOPES if client.client.kind == ClientKind.OPS else PARTNER_SCOPES
        if any(s not in level or s not in client.client.scopes for s in requested):
            raise InvalidScopeError(
                "client credentials grant only the client's own partner-level scopes; "
                "customer scopes need the authorization code flow with a consent"
            )
        self.request.payload.data["scope"] = client.get_allowed_scope(" ".join(requested) or None)


class AuthorizationCodeGrant(_IssuesGatewayTokens, grants.AuthorizationCodeGrant):  # type: ignore[misc]
    def query_authorization_code(self, code: str, client: OAuthClient) -> AuthorizationCode | None:
        state = self.server.state
        record = run_async(state.get_code, code)
        if record is None or record.client_id != client.get_client_id():
            return None
        if record.used_at is not None or not run_async(state.redeem_code, code):
            # RFC 6749 §4.1.2: a reused code revokes what its first use issued. The flag is
            # set before revoking; the first use checks it after recording its tokens, so
            # one of the two always sees the other, even when they race.
            run_async(state.flag_code_reuse, code)
            run_async(state.revoke_grant, record.grant_id)
            raise InvalidGrantError("the authorization code was already used")
        if record.expires_at <= utcnow():
            raise InvalidGrantError("the authorization code has expired")
        self.check_dpop_binding(record.dpop_jkt)
        if self.server.strict and self.request.dpop_jkt is None:
            raise InvalidRequestError("DPoP is required in the strict profile")
        return record

    def create_token_response(self) -> tuple[int, Any, Any]:
        result: tuple[int, Any, Any] = super().create_token_response()
        code = self.request.form["code"]
        if run_async(self.server.state.is_code_reused, code):
            run_async(self.server.state.revoke_grant, self.request.authorization_code.grant_id)
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
    INCLUDE_NEW_REFRESH_TOKEN = False  # FAPI 2.0: no rotation

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        record = run_async(self.server.state.get_refresh_token, refresh_token)
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
