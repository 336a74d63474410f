"""Authentication: who is calling, by access token (with its DPoP binding) or client secret.

What a product accepts is its catalogue `access`: `public` and `client` products pass (the
OAuth endpoints authenticate clients themselves), `token` products need an access token in
the `Authorization` header, and `token_or_secret` products (sandbox tooling) also take the
client's id and secret by HTTP Basic.
"""

from __future__ import annotations

import base64
import binascii
from typing import Protocol

from policies.access_tokens import AccessTokenVerifier
from policies.catalog import Access
from policies.dpop import DPoPError, DPoPVerifier, UseDPoPNonce, single_header
from policies.errors import InvalidRequestError, InvalidTokenError
from policies.pipeline import BaseStage, Caller, Exchange, Outcome


class ClientSecrets(Protocol):
    """Checks a client's id and secret (the gateway's registry)."""

    async def verify_secret(self, client_id: str, secret: str) -> Caller | None:
        """The caller if the client is active and the secret is its own, else None."""
        ...


class Authentication(BaseStage):
    """Establishes `exchange.caller` (and `exchange.grant` for a token) or refuses with 401."""

    name = "authentication"

    def __init__(
        self,
        verifier: AccessTokenVerifier,
        dpop: DPoPVerifier,
        *,
        allow_bearer: bool,
        secrets: ClientSecrets | None = None,
    ) -> None:
        self.verifier = verifier
        self.dpop = dpop
        self.allow_bearer = allow_bearer
        self.secrets = secrets

    async def on_request(self, exchange: Exchange) -> Outcome | None:
        access = exchange.product.access
        if access is Access.PUBLIC or access is Access.CLIENT:
            return None
        if "access_token=" in exchange.url.partition("?")[2]:
            raise InvalidRequestError("access tokens are not accepted in the query string")
        authorization = exchange.headers.get("authorization")
        if not authorization:
            raise InvalidTokenError("an access token is required", error="invalid_request")
        scheme, _, credentials = authorization.partition(" ")
        scheme = scheme.lower()
        credentials = credentials.strip()
        if scheme == "basic" and access is Access.TOKEN_OR_SECRET and self.secrets is not None:
            exchange.caller = await self._basic(credentials)
            return None
        if scheme not in ("bearer", "dpop") or not credentials or " " in credentials:
            raise InvalidTokenError("use 'Authorization: DPoP <token>' or 'Bearer <token>'")
        await self._token(exchange, scheme, credentials)
        return None

    async def _basic(self, credentials: str) -> Caller:
        unauthorized = InvalidTokenError(
            "authenticate with the sandbox client's id and secret (HTTP Basic) or a token",
            schemes=("Basic",),
        )
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise unauthorized from None
        client_id, _, secret = decoded.partition(":")
        assert self.secrets is not None
        caller = await self.secrets.verify_secret(client_id, secret)
        if caller is None:
            raise unauthorized
        return caller

    async def _token(self, exchange: Exchange, scheme: str, token: str) -> None:
        challenge = "DPoP" if scheme == "dpop" else "Bearer"
        try:
            grant = self.verifier.verify(token)
        except InvalidTokenError as exc:
            raise exc.challenging(challenge) from None
        if grant.jkt is None:
            if scheme == "dpop" or not self.allow_bearer:
                raise InvalidTokenError(
                    "this access token is not DPoP-bound; the strict profile requires DPoP",
                    schemes=(challenge,),
                )
        else:
            if scheme != "dpop":
                raise InvalidTokenError(
                    "this access token is DPoP-bound: send it as 'DPoP' with a proof",
                    schemes=("DPoP",),
                )
            try:
                proof = await self.dpop.verify(
                    single_header(exchange.headers, "dpop"),
                    exchange.method,
                    exchange.url,
                    access_token=token,
                    ath=grant.token_hash,
                )
            except UseDPoPNonce as exc:
                raise InvalidTokenError(
                    exc.detail, schemes=("DPoP",), error="use_dpop_nonce", dpop_nonce=exc.nonce
                ) from None
            except DPoPError as exc:
                raise InvalidTokenError(exc.detail, schemes=("DPoP",), error=exc.error) from None
            if proof.jkt != grant.jkt:
                raise InvalidTokenError(
                    "the DPoP proof was signed by another key than the token is bound to",
                    schemes=("DPoP",),
                    error="invalid_dpop_proof",
                )
        exchange.grant = grant
        exchange.caller = Caller(grant.client_id, grant.partner_id)
