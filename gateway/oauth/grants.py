"""The grants: client credentials, authorization code (S256 PKCE) and refresh token.

authlib dispatches by `grant_type` and shapes the token response; the checks are ours, so
each refusal says what went wrong and what to do. The client is authenticated before a
grant runs (`gateway.oauth.client_auth`); tokens come from our `TokenIssuer`, bound to the
DPoP key the token request proved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import CODE_VERIFIER_PATTERN, compare_s256_code_challenge

from gateway.clock import utcnow
from gateway.oauth import refusals as say
from gateway.oauth.clients import GatewayOAuth2Request, OAuthClient, run_async
from gateway.oauth.codes import AuthorizationCode
from gateway.oauth.refresh_tokens import RefreshToken
from gateway.oauth.requests import OAuthError
from gateway.oauth.tokens import Subject
from gateway.partners.models import ClientKind
from policies.messages import Text
from policies.vocabulary import ALL_SCOPES, CUSTOMER_SCOPES, OPS_SCOPES, PARTNER_SCOPES

if TYPE_CHECKING:
    from gateway.oauth.server import GatewayAuthorizationServer


def invalid_grant(description: Text, code: str = "invalid-grant") -> OAuthError:
    return OAuthError("invalid_grant", description, code=code)


class S256CodeChallenge(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256 only, required for every client (FAPI 2.0)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        verifier = grant.request.form.get("code_verifier")
        if not verifier:
            raise OAuthError("invalid_request", say.VERIFIER_MISSING)
        if not CODE_VERIFIER_PATTERN.match(verifier):
            raise OAuthError("invalid_request", say.VERIFIER_MALFORMED)
        challenge = grant.request.authorization_code.code_challenge
        if not compare_s256_code_challenge(verifier, challenge):
            raise invalid_grant(say.VERIFIER_MISMATCH)


class _IssuesGatewayTokens:
    """Grant mix-in: the client authenticated already; tokens come from our `TokenIssuer`."""

    request: GatewayOAuth2Request
    server: GatewayAuthorizationServer
    GRANT_TYPE: str

    @property
    def oauth_client(self) -> OAuthClient:
        client: OAuthClient = self.request.client
        if not client.check_grant_type(self.GRANT_TYPE):
            raise OAuthError("unauthorized_client", say.CUSTOMER_GRANTS_ONLY)
        return client

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
            raise invalid_grant(say.DPOP_BINDING)


class ClientCredentialsGrant(_IssuesGatewayTokens, grants.ClientCredentialsGrant):  # type: ignore[misc]
    def validate_token_request(self) -> None:
        client = self.oauth_client
        requested = (self.request.payload.scope or "").split()
        for scope in requested:
            _check_client_scope(client, scope)
        self.request.payload.data["scope"] = client.get_allowed_scope(" ".join(requested) or None)


def _check_client_scope(client: OAuthClient, scope: str) -> None:
    """A scope client credentials may grant this client, or a refusal naming why not."""
    named = scope[:40]
    if scope not in ALL_SCOPES:
        raise OAuthError("invalid_scope", say.UNKNOWN_SCOPE.format(scope=named))
    if client.client.kind == ClientKind.OPS:
        if scope not in OPS_SCOPES:
            raise OAuthError("invalid_scope", say.PARTNER_SCOPE_FOR_OPS.format(scope=scope))
    elif scope in CUSTOMER_SCOPES:
        raise OAuthError("invalid_scope", say.CUSTOMER_SCOPE.format(scope=scope))
    elif scope not in PARTNER_SCOPES:
        raise OAuthError("invalid_scope", say.OPS_SCOPE.format(scope=scope))
    if scope not in client.client.scopes:
        raise OAuthError("invalid_scope", say.SCOPE_NOT_REGISTERED.format(scope=scope))


class AuthorizationCodeGrant(_IssuesGatewayTokens, grants.AuthorizationCodeGrant):  # type: ignore[misc]
    def validate_token_request(self) -> None:
        client = self.oauth_client
        code = self.request.form.get("code")
        if not code:
            raise OAuthError("invalid_request", say.CODE_MISSING)
        authorization_code = self.query_authorization_code(code, client)
        if self.request.form.get("redirect_uri") != authorization_code.redirect_uri:
            raise invalid_grant(say.REDIRECT_URI_MISMATCH)
        self.request.authorization_code = authorization_code
        self.execute_hook("after_validate_token_request", None)  # PKCE: S256CodeChallenge

    def query_authorization_code(self, code: str, client: OAuthClient) -> AuthorizationCode:
        state = self.server.state
        record = run_async(state.get_code, code)
        if record is None or record.client_id != client.get_client_id():
            raise invalid_grant(say.CODE_UNKNOWN)
        if record.used_at is not None or not run_async(state.redeem_code, code):
            # RFC 6749 §4.1.2: a reused code revokes what its first use issued. The flag is
            # set before revoking; the first use checks it after recording its tokens, so
            # one of the two always sees the other, even when they race.
            run_async(state.flag_code_reuse, code)
            run_async(state.revoke_grant, record.grant_id)
            raise invalid_grant(say.CODE_REUSED)
        if record.expires_at <= utcnow():
            raise invalid_grant(say.CODE_EXPIRED)
        self.check_dpop_binding(record.dpop_jkt)
        return record

    def create_token_response(self) -> tuple[int, Any, Any]:
        result: tuple[int, Any, Any] = super().create_token_response()
        code = self.request.form["code"]
        if run_async(self.server.state.is_code_reused, code):
            run_async(self.server.state.revoke_grant, self.request.authorization_code.grant_id)
            raise invalid_grant(say.CODE_REUSED)
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

    def validate_token_request(self) -> None:
        client = self.oauth_client
        token = self.request.form.get("refresh_token")
        if not token:
            raise OAuthError("invalid_request", say.REFRESH_MISSING)
        record = run_async(self.server.state.get_refresh_token, token)
        if record is None or not record.check_client(client):
            raise invalid_grant(say.REFRESH_UNKNOWN)
        if not record.is_active:
            raise self.server.refresh_refusal(record)
        self.check_dpop_binding(record.dpop_jkt)
        granted = set(record.scope.split())
        requested = (self.request.payload.scope or "").split()
        if not granted.issuperset(requested):
            raise OAuthError("invalid_scope", say.REFRESH_SCOPE.format(scope=record.scope))
        self.request.refresh_token = record

    def authenticate_user(self, refresh_token: RefreshToken) -> Subject | None:
        return self.server.subject_for(
            refresh_token.consent_id, refresh_token.grant_id, refresh_token.customer_ref
        )

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        return None
