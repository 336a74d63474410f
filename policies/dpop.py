"""DPoP proofs (RFC 9449): validation shared by the token endpoint and resource routes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from policies.compact_jws import CompactJWS, JWSError, KeyCache, PublicKey, b64url, parse_compact
from policies.replay import ReplayCache

DPOP_ALGS = ("ES256", "PS256")
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})
# The registered JWS header members (RFC 7515 §4.1) but `crit` and `b64`: no extension is
# understood, and unknown members are refused rather than ignored.
_HEADER_MEMBERS = frozenset(
    {"alg", "typ", "jwk", "kid", "jku", "x5u", "x5c", "x5t", "x5t#S256", "cty"}
)
# A header embeds the public key: an RSA-4096 JWK alone takes some 700 bytes.
_MAX_HEADER, _MAX_PAYLOAD, _MAX_SIGNATURE = 2048, 4096, 512
_MAX_CACHED = 10_000


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
    """Validates a DPoP proof for one HTTP request (RFC 9449 §4.3).

    Checks run cheapest first; a proof reaches the replay cache only once its signature verified,
    so a forgery cannot burn another client's `jti`.
    """

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
        self._keys = KeyCache(max_entries=_MAX_CACHED)
        self._header_keys: dict[str, PublicKey] = {}

    async def verify(
        self,
        proof: str | None,
        method: str,
        url: str,
        access_token: str | None = None,
        *,
        ath: str | None = None,
    ) -> DPoPProof:
        """The verified proof for `method` `url`, bound to `access_token` when one is given.

        `ath` is the token's hash when the caller already has it (hashing a token of a
        kilobyte is a noticeable part of a request).
        """
        if access_token is not None and ath is None:
            ath = access_token_hash(access_token)
        if not proof:
            raise DPoPError("the DPoP header is missing")
        if not isinstance(proof, str):
            raise DPoPError("the DPoP proof is not a compact JWS")
        proof = proof.strip()
        if "," in proof or " " in proof:
            raise DPoPError("exactly one DPoP proof is allowed")
        try:
            jws = parse_compact(
                proof,
                max_header=_MAX_HEADER,
                max_payload=_MAX_PAYLOAD,
                max_signature=_MAX_SIGNATURE,
            )
            key = self._public_key(jws)
            claims = jws.payload()
        except JWSError as exc:
            raise DPoPError(f"the DPoP proof is malformed: {exc}") from exc
        self._check_claims(claims, method, url, ath)
        try:
            key.verify(jws.signature(), jws.signing_input)
        except JWSError as exc:
            raise DPoPError(f"the DPoP proof signature is invalid: {exc}") from exc
        self._check_nonce(claims)
        jti = claims["jti"]
        if not await self.replay.first_use(f"dpop:{key.jkt}:{jti}", ttl=2 * self.iat_window + 5):
            raise DPoPError("the DPoP proof was already used (jti replay)")
        return DPoPProof(jkt=key.jkt, jti=jti)

    def _public_key(self, jws: CompactJWS) -> PublicKey:
        """The key of the proof's header; a header seen before is not decoded or checked again."""
        key = self._header_keys.get(jws.header_segment)
        if key is None:
            key = self._header_key(jws.header())
            if len(self._header_keys) >= _MAX_CACHED:
                del self._header_keys[next(iter(self._header_keys))]
            self._header_keys[jws.header_segment] = key
        return key

    def _header_key(self, header: dict[str, Any]) -> PublicKey:
        """The key of a header that passes the checks, with its RFC 7638 thumbprint."""
        if header.get("typ") != "dpop+jwt":
            raise DPoPError("the DPoP proof must have typ 'dpop+jwt'")
        alg = header.get("alg")
        if alg not in DPOP_ALGS:
            raise DPoPError(f"the DPoP proof alg must be one of {', '.join(DPOP_ALGS)}")
        if "crit" in header:
            raise DPoPError("the DPoP proof header must not name critical extensions ('crit')")
        if not _HEADER_MEMBERS.issuperset(header):
            raise DPoPError("the DPoP proof header has members that are not understood")
        jwk = header.get("jwk")
        if not isinstance(jwk, dict) or not _PRIVATE_MEMBERS.isdisjoint(jwk):
            raise DPoPError("the DPoP proof must carry a public 'jwk'")
        try:
            return self._keys.key_for(jwk, alg)
        except JWSError as exc:
            raise DPoPError(f"the DPoP proof 'jwk' is not accepted: {exc}") from exc

    def _check_claims(
        self, claims: dict[str, Any], method: str, url: str, expected_ath: str | None
    ) -> None:
        jti, htm = claims.get("jti"), claims.get("htm")
        htu, iat = claims.get("htu"), claims.get("iat")
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
        if expected_ath is not None:
            ath = claims.get("ath")
            if not isinstance(ath, str) or not hmac.compare_digest(
                ath.encode(), expected_ath.encode()
            ):
                raise DPoPError("the DPoP proof 'ath' does not match the access token")

    def _check_nonce(self, claims: dict[str, Any]) -> None:
        """A server nonce, when required; asked for only once the proof is otherwise valid."""
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
