"""Access tokens (RFC 9068 JWTs) verified locally, then cached until they expire.

Tokens are verified against the in-memory JWKS; a verified token is cached until its `exp`,
so the hot path costs one dictionary lookup plus the revocation checks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from policies.dpop import access_token_hash
from policies.errors import InvalidTokenError
from policies.pipeline import AccessGrant
from policies.revocation import RevocationList

ACCESS_TOKEN_ALGS = ("ES256", "PS256")
_LEEWAY = 5


class AccessTokenVerifier:
    """Checks an RFC 9068 access token: algorithm, `typ`, signature, issuer, audience, times."""

    def __init__(
        self,
        issuer: str,
        keys: Callable[[], KeySet],
        revocations: RevocationList,
        *,
        max_cache: int = 100_000,
    ) -> None:
        self.issuer = issuer
        self.keys = keys
        self.revocations = revocations
        self.max_cache = max_cache
        self._cache: dict[str, AccessGrant] = {}

    def verify(self, token: str) -> AccessGrant:
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
            raise InvalidTokenError("the access token has expired")
        if (
            self.revocations.is_revoked("jti", grant.token_id)
            or self.revocations.is_revoked("client", grant.client_id)
            or self.revocations.is_revoked("partner", grant.partner_id)
            or self.revocations.is_revoked("consent", grant.consent_id)
        ):
            raise InvalidTokenError("the access token has been revoked")
        return grant

    def _verify_uncached(self, token: str, now: float) -> AccessGrant:
        try:
            header = jws.extract_compact(token.encode()).headers()
        except (JoseError, ValueError, UnicodeError) as exc:
            raise InvalidTokenError("the access token is malformed") from exc
        if header.get("alg") not in ACCESS_TOKEN_ALGS:
            raise InvalidTokenError("the access token algorithm is not accepted")
        if str(header.get("typ", "")).lower() not in ("at+jwt", "application/at+jwt"):
            raise InvalidTokenError("the access token must have typ 'at+jwt' (RFC 9068)")
        try:
            decoded = jwt.decode(token, self.keys(), algorithms=list(ACCESS_TOKEN_ALGS))
        except (JoseError, ValueError) as exc:
            raise InvalidTokenError("the access token signature is invalid") from exc
        claims: dict[str, Any] = dict(decoded.claims)
        if claims.get("iss") != self.issuer:
            raise InvalidTokenError("the access token was issued by someone else")
        aud = claims.get("aud")
        if aud != self.issuer and not (isinstance(aud, list) and self.issuer in aud):
            raise InvalidTokenError("the access token is not meant for this gateway")
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int) or exp + _LEEWAY < now:
            raise InvalidTokenError("the access token has expired")
        nbf = claims.get("nbf", iat)
        if not isinstance(iat, int) or iat - _LEEWAY > now:
            raise InvalidTokenError("the access token is not valid yet")
        if not isinstance(nbf, int) or nbf - _LEEWAY > now:
            raise InvalidTokenError("the access token is not valid yet")
        for name in ("jti", "client_id", "sub", "partner_id"):
            if not isinstance(claims.get(name), str):
                raise InvalidTokenError(f"the access token lacks '{name}'")
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
