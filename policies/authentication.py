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
from policies.challenges import token_schemes
from policies.dpop import DPoPError, DPoPVerifier, UseDPoPNonce, single_header
from policies.errors import InvalidRequestError, InvalidTokenError
from policies.messages import Text
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
        self.schemes = token_schemes(allow_bearer=allow_bearer)

    async def on_request(self, exchange: Exchange) -> Outcome | None:
        access = exchange.product.access
        if access is Access.PUBLIC or access is Access.CLIENT:
            return None
        if "access_token=" in exchange.url.partition("?")[2]:
            raise InvalidRequestError(TOKEN_IN_QUERY)
        takes_basic = access is Access.TOKEN_OR_SECRET and self.secrets is not None
        authorization = exchange.headers.get("authorization")
        scheme, _, credentials = (authorization or "").partition(" ")
        scheme = scheme.lower()
        credentials = credentials.strip()
        if scheme == "basic" and takes_basic:
            exchange.caller = await self._basic(credentials)
            return None
        if scheme not in ("bearer", "dpop"):
            # RFC 6750 §3.1: no credentials, or a scheme not used here: a bare challenge.
            schemes = (*self.schemes, "Basic") if takes_basic else self.schemes
            raise InvalidTokenError(self._missing(takes_basic), error=None, schemes=schemes)
        if not credentials or " " in credentials:
            raise InvalidTokenError(
                MALFORMED_CREDENTIALS, error="invalid_request", schemes=self._answering(scheme)
            )
        await self._token(exchange, scheme, credentials)
        return None

    def _missing(self, takes_basic: bool) -> Text:
        """What to send when no credential came: every kind the product takes."""
        if takes_basic:
            return SECRET_OR_TOKEN_REQUIRED if self.allow_bearer else SECRET_OR_DPOP_TOKEN_REQUIRED
        return TOKEN_REQUIRED if self.allow_bearer else DPOP_TOKEN_REQUIRED

    def _answering(self, scheme: str) -> tuple[str, ...]:
        """The challenge for a credential sent with `scheme`: never `Bearer` where the
        profile refuses bearer tokens."""
        return ("Bearer",) if scheme == "bearer" and self.allow_bearer else ("DPoP",)

    async def _basic(self, credentials: str) -> Caller:
        unauthorized = InvalidTokenError(SANDBOX_CREDENTIALS, schemes=("Basic",))
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
        answering = self._answering(scheme)
        try:
            grant = await self.verifier.verify_current(token)
        except InvalidTokenError as exc:
            raise exc.challenging(*answering) from None
        if grant.jkt is None:
            if scheme == "dpop" or not self.allow_bearer:
                raise InvalidTokenError(NOT_BOUND, schemes=answering)
        else:
            if scheme != "dpop":
                raise InvalidTokenError(BOUND_AS_BEARER, schemes=("DPoP",))
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
                    exc.detail,
                    code="use-dpop-nonce",
                    error="use_dpop_nonce",
                    schemes=("DPoP",),
                    dpop_nonce=exc.nonce,
                ) from None
            except DPoPError as exc:
                raise InvalidTokenError(
                    exc.detail, code="invalid-dpop-proof", error=exc.error, schemes=("DPoP",)
                ) from None
            if proof.jkt != grant.jkt:
                raise InvalidTokenError(
                    PROOF_OF_ANOTHER_KEY,
                    code="invalid-dpop-proof",
                    error="invalid_dpop_proof",
                    schemes=("DPoP",),
                )
        exchange.grant = grant
        exchange.caller = Caller(grant.client_id, grant.partner_id)


TOKEN_IN_QUERY = Text(
    "Access tokens are not accepted in the query string: send them in the Authorization header.",
    "不接受放在查询字符串中的访问令牌：请通过 Authorization 头发送。",
)
TOKEN_REQUIRED = Text(
    "An access token is required: send 'Authorization: DPoP <token>' with a DPoP proof, or "
    "'Authorization: Bearer <token>'.",
    "需要访问令牌：请发送“Authorization: DPoP <令牌>”并附 DPoP 证明，或发送“Authorization: "
    "Bearer <令牌>”。",
)
DPOP_TOKEN_REQUIRED = Text(
    "A DPoP-bound access token is required: send 'Authorization: DPoP <token>' with a DPoP proof.",
    "需要绑定 DPoP 的访问令牌：请发送“Authorization: DPoP <令牌>”并附 DPoP 证明。",
)
SECRET_OR_TOKEN_REQUIRED = Text(
    "Client credentials are required: send the client's id and secret by HTTP Basic "
    "('Authorization: Basic <base64 of client_id:client_secret>'), or an access token of the "
    "client ('Authorization: DPoP <token>' with a DPoP proof, or 'Authorization: Bearer "
    "<token>').",
    "需要客户端凭据：请通过 HTTP Basic 发送客户端 ID 和密钥（“Authorization: Basic "
    "<client_id:client_secret 的 Base64 编码>”），或发送该客户端的访问令牌（“Authorization: "
    "DPoP <令牌>”并附 DPoP 证明，或“Authorization: Bearer <令牌>”）。",
)
SECRET_OR_DPOP_TOKEN_REQUIRED = Text(
    "Client credentials are required: send the client's id and secret by HTTP Basic "
    "('Authorization: Basic <base64 of client_id:client_secret>'), or a DPoP-bound access "
    "token of the client ('Authorization: DPoP <token>' with a DPoP proof).",
    "需要客户端凭据：请通过 HTTP Basic 发送客户端 ID 和密钥（“Authorization: Basic "
    "<client_id:client_secret 的 Base64 编码>”），或发送该客户端绑定 DPoP 的访问令牌"
    "（“Authorization: DPoP <令牌>”并附 DPoP 证明）。",
)
MALFORMED_CREDENTIALS = Text(
    "The Authorization header must be the scheme and one token, e.g. 'DPoP <token>'.",
    "Authorization 头须为认证方案加一个令牌，例如“DPoP <令牌>”。",
)
SANDBOX_CREDENTIALS = Text(
    "Authenticate with the sandbox client's id and secret (HTTP Basic) or an access token.",
    "请使用沙箱客户端的 ID 和密钥（HTTP Basic）或访问令牌进行认证。",
)
NOT_BOUND = Text(
    "This access token is not DPoP-bound, and bearer tokens are not accepted here: get a "
    "token with a DPoP proof at /oauth/token.",
    "此访问令牌未绑定 DPoP，而此处不接受持有者令牌：请携带 DPoP 证明到 /oauth/token 获取令牌。",
)
BOUND_AS_BEARER = Text(
    "This access token is DPoP-bound: send it as 'Authorization: DPoP <token>' with a DPoP proof.",
    "此访问令牌已绑定 DPoP：请以“Authorization: DPoP <令牌>”发送，并附 DPoP 证明。",
)
PROOF_OF_ANOTHER_KEY = Text(
    "The DPoP proof was signed by another key than the one the token is bound to: sign "
    "proofs with the token's key.",
    "DPoP 证明的签名密钥与令牌绑定的密钥不同：请使用令牌绑定的密钥签名证明。",
)
