"""authlib's view of our clients and requests, and `private_key_jwt` client authentication.

authlib's server side is synchronous: the OAuth endpoints run it in a worker thread
(`run_in_threadpool`), and its hooks reach the async services with `anyio.from_thread`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

import anyio.from_thread
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidClientError
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from gateway.partners.models import AuthMethod, Client, ClientKind
from policies.replay import ReplayCache
from policies.vocabulary import CUSTOMER_SCOPES

T = TypeVar("T")
CLIENT_ASSERTION_ALGS = ["ES256", "PS256"]


def run_async(fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
    """Run an async service call from authlib's worker thread."""
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
        key_based = AuthMethod.PRIVATE_KEY_JWT
        if self.strict:
            return method == key_based == self.client.auth_method
        if self.client.auth_method == key_based:
            return method == key_based
        return method in (AuthMethod.CLIENT_SECRET_BASIC, AuthMethod.CLIENT_SECRET_POST)

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "client_credentials":
            return True
        is_customer = bool(set(self.client.scopes) & set(CUSTOMER_SCOPES))
        return (
            self.client.kind == ClientKind.PARTNER
            and is_customer
            and bool(self.client.redirect_uris)
        )


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

    CLIENT_AUTH_METHOD = AuthMethod.PRIVATE_KEY_JWT.value

    def __init__(self, issuer: str, replay: ReplayCache) -> None:
        super().__init__(validate_jti=True, leeway=30)
        self.issuer = issuer
        self.replay = replay

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
        return run_async(self.replay.first_use, f"assertion:{claims['sub']}:{jti}", ttl)
