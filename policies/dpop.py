"""DPoP proofs (RFC 9449): validation shared by the token endpoint and resource routes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, RSAKey

from policies.replay import ReplayCache

DPOP_ALGS = ("ES256", "PS256")
_PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k"}


class _ProofRegistry(jws.JWSRegistry):
    # A proof header embeds its public key: an RSA-3072 JWK alone exceeds joserfc's 512 bytes.
    max_header_length = 2048


PROOF_REGISTRY = _ProofRegistry(algorithms=list(DPOP_ALGS))


class DPoPError(Exception):
    """A proof is missing or invalid; `error` is the RFC 9449 error code to return."""

    def __init__(self, detail: str, error: str = "invalid_dpop_proof") -> None:
        super().__init__(detail)
        self.detail = detail
        self.error = error


class UseDPoPNonce(DPoPError):
    """The server requires a (fresh) nonce; the client must retry with `nonce`."""

    def __init__(self, nonce: str) -> None:
        super().__init__("a DPoP nonce is required", "use_dpop_nonce")
        self.nonce = nonce


@dataclass(frozen=True, slots=True)
class DPoPProof:
    """A verified proof: the thumbprint of its key and its `jti`."""

    jkt: str
    jti: str


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def access_token_hash(access_token: str) -> str:
    """The `ath` claim: base64url(SHA-256(access token)) (RFC 9449 §4.2)."""
    return b64url(hashlib.sha256(access_token.encode()).digest())


def normalise_htu(url: str) -> str:
    """Scheme and host lower-cased, default port dropped, no query or fragment (§4.3)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = (
        host
        if port is None or (scheme, port) in (("http", 80), ("https", 443))
        else (f"{host}:{port}")
    )
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


class NonceIssuer:
    """Stateless DPoP nonces: an HMAC over a time window, valid for two windows."""

    def __init__(self, secret: bytes, window: int = 300) -> None:
        self.secret = secret
        self.window = window

    def _make(self, slot: int) -> str:
        mac = hmac.new(self.secret, f"dpop-nonce:{slot}".encode(), hashlib.sha256).digest()
        return f"{slot:x}.{b64url(mac[:16])}"

    def current(self) -> str:
        return self._make(int(time.time()) // self.window)

    def is_valid(self, nonce: str) -> bool:
        slot = int(time.time()) // self.window
        given = nonce.encode()
        return any(hmac.compare_digest(given, self._make(s).encode()) for s in (slot, slot - 1))


class DPoPVerifier:
    """Validates a DPoP proof for one HTTP request (RFC 9449 §4.3)."""

    def __init__(
        self,
        replay: ReplayCache,
        *,
        iat_window: int = 60,
        nonces: NonceIssuer | None = None,
        require_nonce: bool = False,
    ) -> None:
        self.replay = replay
        self.iat_window = iat_window
        self.nonces = nonces
        self.require_nonce = require_nonce
        self._keys: dict[bytes, tuple[ECKey | RSAKey, str]] = {}

    async def verify(
        self, proof: str | None, method: str, url: str, access_token: str | None = None
    ) -> DPoPProof:
        if not proof:
            raise DPoPError("the DPoP header is missing")
        if "," in proof or " " in proof.strip():
            raise DPoPError("exactly one DPoP proof is allowed")
        key, jkt = self._public_key(proof)
        try:
            verified = jws.deserialize_compact(proof, key, registry=PROOF_REGISTRY)
            claims = orjson.loads(verified.payload)
        except (JoseError, ValueError) as exc:
            raise DPoPError(f"the DPoP proof signature is invalid: {exc}") from exc
        if not isinstance(claims, dict):
            raise DPoPError("the DPoP proof payload must be a JSON object")
        self._check_claims(claims, method, url, access_token)
        jti = claims["jti"]
        if not await self.replay.first_use(f"dpop:{jkt}:{jti}", ttl=2 * self.iat_window + 5):
            raise DPoPError("the DPoP proof was already used (jti replay)")
        return DPoPProof(jkt=jkt, jti=jti)

    def _public_key(self, proof: str) -> tuple[ECKey | RSAKey, str]:
        """The proof's header key and its RFC 7638 thumbprint (imported keys are cached)."""
        encoded_header, dot, _ = proof.partition(".")
        if not dot or len(encoded_header) > PROOF_REGISTRY.max_header_length * 4 // 3 + 4:
            raise DPoPError("the DPoP proof is not a compact JWS")
        try:
            header = orjson.loads(
                base64.urlsafe_b64decode(encoded_header + "=" * (-len(encoded_header) % 4))
            )
        except (ValueError, UnicodeError) as exc:
            raise DPoPError("the DPoP proof is not a compact JWS") from exc
        if not isinstance(header, dict):
            raise DPoPError("the DPoP proof is not a compact JWS")
        if header.get("typ") != "dpop+jwt":
            raise DPoPError("the DPoP proof must have typ 'dpop+jwt'")
        if header.get("alg") not in DPOP_ALGS:
            raise DPoPError(f"the DPoP proof alg must be one of {', '.join(DPOP_ALGS)}")
        jwk = header.get("jwk")
        if not isinstance(jwk, dict) or _PRIVATE_MEMBERS & set(jwk):
            raise DPoPError("the DPoP proof must carry a public 'jwk'")
        cache_key = orjson.dumps(jwk, option=orjson.OPT_SORT_KEYS)
        cached = self._keys.get(cache_key)
        if cached is not None:
            return cached
        try:
            key = JWKRegistry.import_key(jwk)
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise DPoPError("the DPoP proof 'jwk' is not a valid key") from exc
        if not isinstance(key, ECKey | RSAKey):
            raise DPoPError("the DPoP proof key type is not allowed")
        if len(self._keys) >= 10_000:
            self._keys.clear()
        self._keys[cache_key] = (key, key.thumbprint())
        return self._keys[cache_key]

    def _check_claims(
        self, claims: dict[str, Any], method: str, url: str, access_token: str | None
    ) -> None:
        jti, htm, htu, iat = (claims.get(c) for c in ("jti", "htm", "htu", "iat"))
        if not isinstance(jti, str) or not 8 <= len(jti) <= 256:
            raise DPoPError("the DPoP proof needs a 'jti'")
        if htm != method:
            raise DPoPError("the DPoP proof 'htm' does not match the request method")
        target = url.partition("?")[0]
        try:
            same_target = isinstance(htu, str) and (
                htu == target or normalise_htu(htu) == normalise_htu(url)
            )
        except ValueError:  # e.g. a port out of range
            same_target = False
        if not same_target:
            raise DPoPError("the DPoP proof 'htu' does not match the request URL")
        if not isinstance(iat, int | float) or abs(time.time() - iat) > self.iat_window:
            raise DPoPError("the DPoP proof 'iat' is outside the accepted window")
        if access_token is not None:
            ath = claims.get("ath")
            if not isinstance(ath, str) or not hmac.compare_digest(
                ath.encode(), access_token_hash(access_token).encode()
            ):
                raise DPoPError("the DPoP proof 'ath' does not match the access token")
        if self.nonces is not None and self.require_nonce:
            nonce = claims.get("nonce")
            if not isinstance(nonce, str) or not self.nonces.is_valid(nonce):
                raise UseDPoPNonce(self.nonces.current())


def single_header(headers: Any, name: str) -> str | None:
    """The one value of header `name`; a repeated header is refused (RFC 9449 §4.3)."""
    getlist = getattr(headers, "getlist", None)
    values = getlist(name) if getlist is not None else [v for v in [headers.get(name)] if v]
    if len(values) > 1:
        raise DPoPError(f"exactly one {name} header is allowed")
    return values[0] if values else None


def new_jti() -> str:
    return secrets.token_urlsafe(16)
