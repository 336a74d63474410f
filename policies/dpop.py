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
from policies.messages import Text
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

    def __init__(self, detail: Text, error: str = "invalid_dpop_proof") -> None:
        super().__init__(str(detail))
        self.detail = detail
        self.error = error


class UseDPoPNonce(DPoPError):
    """The server requires a (fresh) nonce; the client must retry with `nonce`."""

    def __init__(self, nonce: str) -> None:
        super().__init__(NONCE_REQUIRED, "use_dpop_nonce")
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
            raise DPoPError(MISSING)
        if not isinstance(proof, str):
            raise DPoPError(NOT_COMPACT)
        proof = proof.strip()
        if "," in proof or " " in proof:
            raise DPoPError(ONE_PROOF)
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
            raise DPoPError(_because(MALFORMED, exc.message)) from exc
        self._check_claims(claims, method, url, ath)
        try:
            key.verify(jws.signature(), jws.signing_input)
        except JWSError as exc:
            raise DPoPError(_because(BAD_SIGNATURE, exc.message)) from exc
        self._check_nonce(claims)
        jti = claims["jti"]
        if not await self.replay.first_use(f"dpop:{key.jkt}:{jti}", ttl=2 * self.iat_window + 5):
            raise DPoPError(REPLAYED)
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
            raise DPoPError(BAD_TYP)
        alg = header.get("alg")
        if alg not in DPOP_ALGS:
            raise DPoPError(BAD_ALG)
        if "crit" in header:
            raise DPoPError(CRITICAL)
        if not _HEADER_MEMBERS.issuperset(header):
            raise DPoPError(UNKNOWN_MEMBERS)
        jwk = header.get("jwk")
        if not isinstance(jwk, dict) or not _PRIVATE_MEMBERS.isdisjoint(jwk):
            raise DPoPError(NO_PUBLIC_JWK)
        try:
            return self._keys.key_for(jwk, alg)
        except JWSError as exc:
            raise DPoPError(_because(JWK_REFUSED, exc.message)) from exc

    def _check_claims(
        self, claims: dict[str, Any], method: str, url: str, expected_ath: str | None
    ) -> None:
        jti, htm = claims.get("jti"), claims.get("htm")
        htu, iat = claims.get("htu"), claims.get("iat")
        if not isinstance(jti, str) or not 8 <= len(jti) <= 256:
            raise DPoPError(NO_JTI)
        if htm != method:
            raise DPoPError(OTHER_METHOD)
        target = url.partition("?")[0]
        try:
            same_target = isinstance(htu, str) and (
                htu == target or normalise_htu(htu) == normalise_htu(url)
            )
        except ValueError:  # e.g. a port out of range
            same_target = False
        if not same_target:
            raise DPoPError(OTHER_URL)
        if not isinstance(iat, int | float) or abs(time.time() - iat) > self.iat_window:
            raise DPoPError(OUT_OF_WINDOW)
        if expected_ath is not None:
            ath = claims.get("ath")
            if not isinstance(ath, str) or not hmac.compare_digest(
                ath.encode(), expected_ath.encode()
            ):
                raise DPoPError(OTHER_TOKEN)

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
        raise DPoPError(ONE_HEADER.format(name=name))
    return values[0] if values else None


def new_jti() -> str:
    return secrets.token_urlsafe(16)


def _because(text: Text, reason: Text) -> Text:
    return Text(f"{text.en}: {reason.en}.", f"{text.zh}：{reason.zh}。")


_SEND = "send a fresh proof for this request, signed by the token's key"
_SEND_ZH = "请为本次请求发送由令牌绑定密钥签名的新证明"
MISSING = Text(f"The DPoP header is missing: {_SEND}.", f"缺少 DPoP 请求头：{_SEND_ZH}。")
NOT_COMPACT = Text(
    "The DPoP proof is not a compact JWS: sign it as a JWT (RFC 9449 §4.2).",
    "DPoP 证明不是紧凑 JWS：请按 JWT 格式签名（RFC 9449 §4.2）。",
)
ONE_PROOF = Text(
    "Exactly one DPoP proof is allowed per request.", "每个请求只能携带一个 DPoP 证明。"
)
ONE_HEADER = Text(
    "Exactly one {name} header is allowed per request.", "每个请求只能携带一个 {name} 请求头。"
)
MALFORMED = Text("The DPoP proof is malformed", "DPoP 证明格式错误")
BAD_SIGNATURE = Text("The DPoP proof signature is invalid", "DPoP 证明签名无效")
JWK_REFUSED = Text("The DPoP proof 'jwk' is not accepted", "DPoP 证明中的 jwk 不被接受")
REPLAYED = Text(
    "The DPoP proof was already used (jti replay): sign a new proof with a fresh jti for "
    "every request.",
    "该 DPoP 证明已被使用过（jti 重放）：每个请求都须签发带有新 jti 的证明。",
)
BAD_TYP = Text(
    "The DPoP proof must have the header typ 'dpop+jwt'.", "DPoP 证明头部的 typ 必须为“dpop+jwt”。"
)
BAD_ALG = Text(
    f"The DPoP proof must be signed with {' or '.join(DPOP_ALGS)}.",
    f"DPoP 证明必须使用 {' 或 '.join(DPOP_ALGS)} 签名。",
)
CRITICAL = Text(
    "The DPoP proof header must not name critical extensions ('crit').",
    "DPoP 证明头部不得声明关键扩展（crit）。",
)
UNKNOWN_MEMBERS = Text(
    "The DPoP proof header has members that are not understood: use only the registered "
    "JWS header members.",
    "DPoP 证明头部含有无法识别的成员：请只使用已注册的 JWS 头部成员。",
)
NO_PUBLIC_JWK = Text(
    "The DPoP proof must carry its public key as 'jwk' in the header, without private parts.",
    "DPoP 证明须在头部以 jwk 携带其公钥，且不得含私钥成分。",
)
NO_JTI = Text(
    "The DPoP proof needs a 'jti' of 8 to 256 characters, new for every proof.",
    "DPoP 证明须包含 8 至 256 个字符的 jti，且每个证明都不同。",
)
OTHER_METHOD = Text(
    f"The DPoP proof 'htm' does not match the request method: {_SEND}.",
    f"DPoP 证明的 htm 与请求方法不一致：{_SEND_ZH}。",
)
OTHER_URL = Text(
    f"The DPoP proof 'htu' does not match the request URL (without query): {_SEND}.",
    f"DPoP 证明的 htu 与请求地址（不含查询部分）不一致：{_SEND_ZH}。",
)
OUT_OF_WINDOW = Text(
    "The DPoP proof 'iat' is outside the accepted window: check your clock and sign a fresh proof.",
    "DPoP 证明的 iat 超出可接受的时间范围：请检查系统时钟并签发新证明。",
)
OTHER_TOKEN = Text(
    "The DPoP proof 'ath' does not match the access token: hash the token you send.",
    "DPoP 证明的 ath 与访问令牌不一致：请对所发送的令牌计算哈希。",
)
NONCE_REQUIRED = Text(
    "A DPoP nonce is required: retry with the DPoP-Nonce response header's value as the "
    "proof's 'nonce'.",
    "需要 DPoP 随机数：请将响应头 DPoP-Nonce 的值作为证明中的 nonce 后重试。",
)
