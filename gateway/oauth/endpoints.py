"""Token revocation (RFC 7009) and introspection (RFC 7662)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from gateway.oauth.clients import OAuthClient, run_async
from gateway.oauth.refresh_tokens import RefreshToken
from gateway.partners.models import ClientKind

if TYPE_CHECKING:
    from gateway.oauth.server import GatewayAuthorizationServer


@dataclass(frozen=True, slots=True)
class FoundToken:
    """A token located for revocation or introspection."""

    kind: str  # access_token | refresh_token
    value: Any  # the verified AccessGrant, or the refresh token string
    client_id: str

    def check_client(self, client: OAuthClient) -> bool:
        return self.client_id == client.get_client_id()


class GatewayRevocationEndpoint(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009 for our JWT access tokens and opaque refresh tokens."""

    server: GatewayAuthorizationServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return self.server.find_token(token_string, token_type_hint)

    def revoke_token(self, token: FoundToken, request: Any) -> None:
        if token.kind == "access_token":
            run_async(self.server.state.revoke_access_token, token.value.token_id)
        else:
            run_async(self.server.state.revoke_refresh_token, token.value)


class GatewayIntrospectionEndpoint(IntrospectionEndpoint):  # type: ignore[misc]
    """RFC 7662: a client may introspect its own tokens; ops clients any token."""

    server: GatewayAuthorizationServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return self.server.find_token(token_string, token_type_hint)

    def check_permission(self, token: FoundToken, client: OAuthClient, request: Any) -> bool:
        return client.client.kind == ClientKind.OPS or token.check_client(client)

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
        record: RefreshToken | None = run_async(self.server.state.get_refresh_token, token.value)
        if record is None or not record.is_active:
            return {"active": False}
        return {
            "active": True,
            "token_type": "refresh_token",
            "client_id": token.client_id,
            "scope": record.scope,
            "exp": int(record.expires_at.timestamp()),
        }
