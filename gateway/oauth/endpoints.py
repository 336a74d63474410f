"""Token revocation (RFC 7009) and introspection (RFC 7662).

Both find a token whatever its `token_type_hint` says: the hint only orders the search
(RFC 7009 §2.1, RFC 7662 §2.1), and a hint value we do not know is ignored rather than
refused, since every type of token this server issues can be found and revoked. Revoking
another client's token, an unknown string or a dead token answers alike (`200`, nothing
revoked), so the endpoint tells nobody which strings are live tokens.
"""

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

    def authenticate_token(self, request: Any, client: OAuthClient) -> FoundToken | None:
        """The client's own live token, or None (answered `200` all the same, §2.2)."""
        token = self.server.find_token(request.form["token"], request.form.get("token_type_hint"))
        if token is None or not token.check_client(client):
            return None
        return token

    def revoke_token(self, token: FoundToken, request: Any) -> None:
        if token.kind == "access_token":
            run_async(self.server.state.revoke_access_token, token.value.token_id)
        else:
            # RFC 7009 §2.1: a refresh token's revocation ends its grant's access tokens too.
            run_async(self.server.state.revoke_refresh_token, token.value)


class GatewayIntrospectionEndpoint(IntrospectionEndpoint):  # type: ignore[misc]
    """RFC 7662: a client may introspect its own tokens; ops clients any token."""

    server: GatewayAuthorizationServer

    def authenticate_token(self, request: Any, client: OAuthClient) -> FoundToken | None:
        token = self.server.find_token(request.form["token"], request.form.get("token_type_hint"))
        if token is None or not self.check_permission(token, client, request):
            return None
        return token

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
