"""Access tokens (RFC 9068 JWTs) verified locally, then cached until they expire.

Tokens are verified against the signing keys this replica trusts; a verified token is cached
until its `exp`, so the hot path costs one dictionary lookup plus the revocation checks. Any
change to the trusted keys (a rotation, a revocation) empties the cache.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from policies.dpop import access_token_hash
from policies.errors import InvalidTokenError
from policies.messages import Text
from policies.pipeline import AccessGrant
from policies.revocation import RevocationList

ACCESS_TOKEN_ALGS = ("ES256", "PS256")
_LEEWAY = 5
_NEW_TOKEN = "get a new one from /oauth/token"
_NEW_TOKEN_ZH = "请从 /oauth/token 重新获取"

MALFORMED = Text(
    f"The access token is not a JWT: {_NEW_TOKEN}.", f"访问令牌不是 JWT 格式：{_NEW_TOKEN_ZH}。"
)
BAD_ALG = Text(
    f"The access token must be signed with ES256 or PS256: {_NEW_TOKEN}.",
    f"访问令牌必须使用 ES256 或 PS256 签名：{_NEW_TOKEN_ZH}。",
)
BAD_TYP = Text(
    f"The access token must have the header typ 'at+jwt' (RFC 9068): {_NEW_TOKEN}.",
    f"访问令牌头部的 typ 必须为“at+jwt”（RFC 9068）：{_NEW_TOKEN_ZH}。",
)
UNTRUSTED_KEY = Text(
    f"The access token was signed by a key this gateway does not trust (unknown, rotated "
    f"out or revoked): {_NEW_TOKEN}.",
    f"访问令牌的签名密钥不受本网关信任（未知、已轮换下线或已吊销）：{_NEW_TOKEN_ZH}。",
)
BAD_SIGNATURE = Text(
    f"The access token's signature does not verify: {_NEW_TOKEN}.",
    f"访问令牌的签名校验失败：{_NEW_TOKEN_ZH}。",
)
SIGNED_AFTER_RETIREMENT = Text(
    f"The access token was signed by a key after that key was retired: {_NEW_TOKEN}.",
    f"访问令牌的签名时间晚于其签名密钥的停用时间：{_NEW_TOKEN_ZH}。",
)
OTHER_ISSUER = Text(
    f"The access token was issued by another authorization server: {_NEW_TOKEN}.",
    f"访问令牌由其他授权服务器签发：{_NEW_TOKEN_ZH}。",
)
OTHER_AUDIENCE = Text(
    f"The access token is meant for another audience: {_NEW_TOKEN}.",
    f"访问令牌的受众不是本网关：{_NEW_TOKEN_ZH}。",
)
NOT_YET_VALID = Text(
    "The access token is not valid yet (its iat or nbf is in the future): check your clock, "
    "or get a new token.",
    "访问令牌尚未生效（iat 或 nbf 晚于当前时间）：请检查系统时钟，或重新获取令牌。",
)
MISSING_CLAIM = Text(
    f"The access token lacks the '{{name}}' claim: {_NEW_TOKEN}.",
    f"访问令牌缺少“{{name}}”声明：{_NEW_TOKEN_ZH}。",
)
EXPIRED = Text(
    "The access token has expired: get a new one with your refresh token or client "
    "credentials at /oauth/token.",
    "访问令牌已过期：请使用刷新令牌或客户端凭据在 /oauth/token 重新获取。",
)
REVOKED = Text(
    f"The access token was revoked: {_NEW_TOKEN}.", f"访问令牌已被撤销：{_NEW_TOKEN_ZH}。"
)
CLIENT_REVOKED = Text(
    "The client or its partner was revoked or suspended, so its tokens no longer work: "
    "contact the bank.",
    "该客户端或其所属合作方已被撤销或暂停，其令牌均已失效：请联系银行。",
)
CONSENT_REVOKED = Text(
    "The customer's consent behind this token was revoked: ask the customer for a new "
    "consent (POST /v1/consents, then authorisation).",
    "此令牌所依据的客户授权已被撤销：请重新请求客户授权（POST /v1/consents 后由客户确认）。",
)
CONSENT_EXPIRED = Text(
    "The customer's consent behind this token has expired: ask the customer for a new "
    "consent (POST /v1/consents, then authorisation).",
    "此令牌所依据的客户授权已过期：请重新请求客户授权（POST /v1/consents 后由客户确认）。",
)


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A public key that may have signed access tokens, and when it stopped signing (if it did)."""

    kid: str
    alg: str
    key: ECKey | RSAKey
    retired_at: float | None = None


class TokenKeys(Protocol):
    """The signing keys this replica trusts (the gateway's key ring)."""

    @property
    def version(self) -> int:
        """Changes whenever the trusted keys change."""
        ...

    def verification_key(self, kid: str) -> VerificationKey | None:
        """The key `kid` if tokens it signed may still be valid; None if unknown or revoked."""
        ...

    async def catch_up(self) -> None:
        """Re-read the keys (another replica may have started signing with a new one)."""
        ...


class UnknownSigningKeyError(InvalidTokenError):
    """The token names a key this replica does not trust, or does not know yet."""


class AccessTokenVerifier:
    """Checks an RFC 9068 access token: algorithm, `typ`, signature, issuer, audience, times."""

    def __init__(
        self,
        issuer: str,
        keys: TokenKeys,
        revocations: RevocationList,
        *,
        max_cache: int = 100_000,
    ) -> None:
        self.issuer = issuer
        self.keys = keys
        self.revocations = revocations
        self.max_cache = max_cache
        self._cache: dict[str, AccessGrant] = {}
        self._keys_version = keys.version

    async def verify_current(self, token: str) -> AccessGrant:
        """`verify`, catching up with the signing keys first when the token names a key this
        replica does not know: another replica may have just started signing with it."""
        try:
            return self.verify(token)
        except UnknownSigningKeyError:
            await self.keys.catch_up()
            return self.verify(token)

    def verify(self, token: str) -> AccessGrant:
        if self.keys.version != self._keys_version:
            self._cache.clear()
            self._keys_version = self.keys.version
        grant = self._cache.get(token)
        now = time.time()
        if grant is None:
            grant = self._verify_uncached(token, now)
            if len(self._cache) >= self.max_cache:
                self._cache = {t: g for t, g in self._cache.items() if g.expires_at > now}
                if len(self._cache) >= self.max_cache:
                    self._cache.clear()
            self._cache[token] = grant
        elif grant.expires_at + _LEEWAY < now:
            self._cache.pop(token, None)
            raise InvalidTokenError(EXPIRED, code="token-expired")
        revoked = self.revocations.is_revoked
        if revoked("jti", grant.token_id):
            raise InvalidTokenError(REVOKED, code="token-revoked")
        if revoked("client", grant.client_id) or revoked("partner", grant.partner_id):
            raise InvalidTokenError(CLIENT_REVOKED, code="client-revoked")
        if revoked("consent", grant.consent_id):
            raise InvalidTokenError(CONSENT_REVOKED, code="consent-revoked")
        if revoked("consent_expired", grant.consent_id):
            raise InvalidTokenError(CONSENT_EXPIRED, code="consent-expired")
        return grant

    def _verify_uncached(self, token: str, now: float) -> AccessGrant:
        try:
            header = jws.extract_compact(token.encode()).headers()
        except (JoseError, ValueError, UnicodeError) as exc:
            raise InvalidTokenError(MALFORMED) from exc
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ACCESS_TOKEN_ALGS:
            raise InvalidTokenError(BAD_ALG)
        if str(header.get("typ", "")).lower() not in ("at+jwt", "application/at+jwt"):
            raise InvalidTokenError(BAD_TYP)
        key = self.keys.verification_key(kid) if isinstance(kid, str) else None
        if key is None:
            raise UnknownSigningKeyError(UNTRUSTED_KEY)
        if key.alg != alg:
            raise InvalidTokenError(UNTRUSTED_KEY)
        try:
            decoded = jwt.decode(token, key.key, algorithms=[key.alg])
        except (JoseError, ValueError) as exc:
            raise InvalidTokenError(BAD_SIGNATURE) from exc
        claims: dict[str, Any] = dict(decoded.claims)
        if claims.get("iss") != self.issuer:
            raise InvalidTokenError(OTHER_ISSUER)
        aud = claims.get("aud")
        if aud != self.issuer and not (isinstance(aud, list) and self.issuer in aud):
            raise InvalidTokenError(OTHER_AUDIENCE)
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int):
            raise InvalidTokenError(MISSING_CLAIM.format(name="exp"))
        if exp + _LEEWAY < now:
            raise InvalidTokenError(EXPIRED, code="token-expired")
        nbf = claims.get("nbf", iat)
        if not isinstance(iat, int) or iat - _LEEWAY > now:
            raise InvalidTokenError(NOT_YET_VALID)
        if not isinstance(nbf, int) or nbf - _LEEWAY > now:
            raise InvalidTokenError(NOT_YET_VALID)
        if key.retired_at is not None and iat > key.retired_at + _LEEWAY:
            raise InvalidTokenError(SIGNED_AFTER_RETIREMENT)
        for name in ("jti", "client_id", "sub", "partner_id"):
            if not isinstance(claims.get(name), str):
                raise InvalidTokenError(MISSING_CLAIM.format(name=name))
        cnf = claims.get("cnf")
        jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
        return AccessGrant(
            token_id=claims["jti"],
            client_id=claims["client_id"],
            partner_id=claims["partner_id"],
            subject=claims["sub"],
            scopes=frozenset(str(claims.get("scope", "")).split()),
            expires_at=exp,
            consent_id=claims.get("consent_id"),
            jkt=jkt if isinstance(jkt, str) else None,
            token_hash=access_token_hash(token) if isinstance(jkt, str) else None,
        )
