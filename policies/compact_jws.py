"""Compact JWS (RFC 7515) signed by an embedded public JWK, checked with `cryptography` directly.

A DPoP proof carries its own key, so every request parses a JWS and may import a JWK. A general
JOSE library spends twice the signature check on that plumbing; the subset a proof needs (ES256
on P-256, PS256 on RSA of 2048 to 4096 bits) is small enough to do by hand, strictly.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from policies.messages import Text

_COMPACT = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_TO_STANDARD_ALPHABET = bytes.maketrans(b"-_", b"+/")

_SHA256 = hashes.SHA256()
_ECDSA_SHA256 = ec.ECDSA(_SHA256)
# RFC 7518 §3.5: the salt is as long as the hash output.
_PSS_SHA256 = padding.PSS(mgf=padding.MGF1(_SHA256), salt_length=32)
_RSA_BITS = (2048, 4096)
_REQUIRED_MEMBERS = {"EC": ("crv", "x", "y"), "RSA": ("e", "n")}


class JWSError(ValueError):
    """A compact JWS or its key is malformed or not accepted; `message` says why."""

    def __init__(self, message: Text) -> None:
        super().__init__(str(message))
        self.message = message


_PARTS = {"header": "头部", "payload": "载荷"}
RSA_SIZE = Text(
    f"an RSA key must have a modulus of {_RSA_BITS[0]} to {_RSA_BITS[1]} bits",
    f"RSA 密钥的模数必须为 {_RSA_BITS[0]} 至 {_RSA_BITS[1]} 位",
)


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JOSE writes binary values."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _encoded_length(size: int) -> int:
    """The length of `size` bytes in unpadded base64url."""
    return (4 * size + 2) // 3


def _decode(segment: str) -> bytes:
    """Bytes of an unpadded base64url segment that `parse_compact` or `_decode_member` checked."""
    return binascii.a2b_base64(segment.encode().translate(_TO_STANDARD_ALPHABET) + b"==")


def _decode_member(value: str, name: str) -> bytes:
    if not _BASE64URL.fullmatch(value) or len(value) % 4 == 1:
        raise JWSError(
            Text(
                f"the key member '{name}' is not base64url", f"密钥成员“{name}”不是 base64url 编码"
            )
        )
    return _decode(value)


def _json_object(data: bytes, part: str) -> dict[str, Any]:
    try:
        value = orjson.loads(data)
    except ValueError as exc:
        raise JWSError(Text(f"the {part} is not JSON", f"{_PARTS[part]}不是 JSON")) from exc
    if not isinstance(value, dict):
        raise JWSError(
            Text(
                f"the {part} is not a JSON object",
                f"{_PARTS[part]}不是 JSON 对象",
            )
        )
    return value


@dataclass(slots=True)
class CompactJWS:
    """A compact JWS of well-formed segments within their size limits, decoded on demand."""

    header_segment: str
    payload_segment: str
    signature_segment: str

    def header(self) -> dict[str, Any]:
        """The protected header, which must be a JSON object."""
        return _json_object(_decode(self.header_segment), "header")

    def payload(self) -> dict[str, Any]:
        """The payload, which must be a JSON object (a JWT claims set)."""
        return _json_object(_decode(self.payload_segment), "payload")

    def signature(self) -> bytes:
        """The signature bytes, not yet checked."""
        return _decode(self.signature_segment)

    @property
    def signing_input(self) -> bytes:
        """The bytes the signature covers: the header and payload segments, ASCII (§5.2)."""
        return f"{self.header_segment}.{self.payload_segment}".encode()


def parse_compact(
    token: str, *, max_header: int, max_payload: int, max_signature: int
) -> CompactJWS:
    """Three unpadded base64url segments (RFC 7515 §7.1), each within its size in bytes."""
    if len(token) > _encoded_length(max_header + max_payload + max_signature) + 2:
        raise JWSError(Text("the token is too large", "令牌过大"))
    match = _COMPACT.fullmatch(token)
    if match is None:
        raise JWSError(
            Text(
                "the token is not three unpadded base64url segments",
                "令牌不是三段无填充的 base64url 编码",
            )
        )
    header, payload, signature = match.groups()
    if len(header) % 4 == 1 or len(payload) % 4 == 1 or len(signature) % 4 == 1:
        raise JWSError(
            Text(
                "a segment of the token has a base64url length that no bytes have",
                "令牌中有一段的 base64url 长度无效",
            )
        )
    if len(header) > _encoded_length(max_header):
        raise JWSError(
            Text(f"the header exceeds {max_header} bytes", f"头部超过 {max_header} 字节")
        )
    if len(payload) > _encoded_length(max_payload):
        raise JWSError(
            Text(f"the payload exceeds {max_payload} bytes", f"载荷超过 {max_payload} 字节")
        )
    if len(signature) > _encoded_length(max_signature):
        raise JWSError(
            Text(f"the signature exceeds {max_signature} bytes", f"签名超过 {max_signature} 字节")
        )
    return CompactJWS(header, payload, signature)


@dataclass(frozen=True, slots=True)
class PublicKey:
    """An imported public JWK: the one `alg` it verifies and its RFC 7638 thumbprint `jkt`."""

    alg: str
    jkt: str
    key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey

    def verify(self, signature: bytes, signing_input: bytes) -> None:
        """Raise `JWSError` unless `signature` signs `signing_input` with this key."""
        try:
            if isinstance(self.key, ec.EllipticCurvePublicKey):
                if len(signature) != 64:
                    raise JWSError(
                        Text(
                            f"an ES256 signature is 64 bytes (r||s), not {len(signature)}",
                            f"ES256 签名应为 64 字节（r||s），而不是 {len(signature)} 字节",
                        )
                    )
                r, s = int.from_bytes(signature[:32]), int.from_bytes(signature[32:])
                self.key.verify(encode_dss_signature(r, s), signing_input, _ECDSA_SHA256)
            else:
                size = (self.key.key_size + 7) // 8
                if len(signature) != size:
                    raise JWSError(
                        Text(
                            f"a PS256 signature by this key is {size} bytes",
                            f"此密钥的 PS256 签名应为 {size} 字节",
                        )
                    )
                self.key.verify(signature, signing_input, _PSS_SHA256, _SHA256)
        except InvalidSignature as exc:
            raise JWSError(
                Text(
                    "the signature does not verify with the header's key",
                    "签名无法用头部中的密钥校验通过",
                )
            ) from exc


def _thumbprint(members: dict[str, str]) -> str:
    """RFC 7638: SHA-256 over the required members, sorted, as compact JSON."""
    return b64url(hashlib.sha256(orjson.dumps(members)).digest())


def _import_ec(crv: str, x: str, y: str) -> PublicKey:
    if crv != "P-256":
        raise JWSError(
            Text(
                "an EC key must be on curve P-256",
                "EC 密钥必须使用 P-256 曲线",
            )
        )
    if len(x) != 43 or len(y) != 43:
        raise JWSError(
            Text(
                "the EC coordinates x and y must be 32 bytes each",
                "EC 坐标 x 和 y 必须各为 32 字节",
            )
        )
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(_decode_member(x, "x")),
        int.from_bytes(_decode_member(y, "y")),
        ec.SECP256R1(),
    )
    try:
        key = numbers.public_key()
    except ValueError as exc:
        raise JWSError(
            Text("the EC point is not on curve P-256", "EC 点不在 P-256 曲线上")
        ) from exc
    jkt = _thumbprint({"crv": crv, "kty": "EC", "x": x, "y": y})
    return PublicKey(alg="ES256", jkt=jkt, key=key)


def _import_rsa(e: str, n: str) -> PublicKey:
    if len(e) > 8 or int.from_bytes(_decode_member(e, "e")) != 65537:
        raise JWSError(
            Text("an RSA key must have the public exponent 65537", "RSA 密钥的公钥指数必须为 65537")
        )
    low, high = _RSA_BITS
    # One leading zero octet is tolerated, as other JOSE libraries do.
    if not _encoded_length(low // 8) <= len(n) <= _encoded_length(high // 8 + 1):
        raise JWSError(RSA_SIZE)
    modulus = int.from_bytes(_decode_member(n, "n"))
    if not low <= modulus.bit_length() <= high:
        raise JWSError(RSA_SIZE)
    try:
        key = rsa.RSAPublicNumbers(65537, modulus).public_key()
    except ValueError as exc:
        raise JWSError(Text("the RSA modulus is not valid", "RSA 模数无效")) from exc
    jkt = _thumbprint({"e": e, "kty": "RSA", "n": n})
    return PublicKey(alg="PS256", jkt=jkt, key=key)


def import_jwk(jwk: Mapping[str, Any]) -> PublicKey:
    """A public P-256 or RSA key from its JWK; anything weaker or unusual is refused."""
    return _import(_required_members(jwk))


def check_verification_key(jwk: Mapping[str, Any]) -> PublicKey:
    """A public key fit to verify signatures: accepted by `import_jwk`, and its `use`,
    `key_ops` and `alg`, when given, allow the one algorithm it verifies."""
    key = import_jwk(jwk)
    _check_intended_use(jwk, key.alg)
    return key


def _required_members(jwk: Mapping[str, Any]) -> tuple[str, ...]:
    kty = jwk.get("kty")
    if not isinstance(kty, str) or kty not in _REQUIRED_MEMBERS:
        raise JWSError(
            Text("the key type (kty) must be EC or RSA", "密钥类型（kty）必须为 EC 或 RSA")
        )
    names = _REQUIRED_MEMBERS[kty]
    members = [kty]
    for name in names:
        value = jwk.get(name)
        if not isinstance(value, str):
            raise JWSError(
                Text(
                    f"an {kty} key needs the string members {', '.join(names)}",
                    f"{kty} 密钥须包含字符串成员 {'、'.join(names)}",
                )
            )
        members.append(value)
    return tuple(members)


def _import(members: tuple[str, ...]) -> PublicKey:
    if members[0] == "EC":
        return _import_ec(*members[1:])
    return _import_rsa(*members[1:])


def _check_intended_use(jwk: Mapping[str, Any], alg: str) -> None:
    """RFC 7517 §4.2 to §4.4: a key's `use`, `key_ops` and `alg`, when given, must allow `alg`."""
    use, key_ops, key_alg = jwk.get("use"), jwk.get("key_ops"), jwk.get("alg")
    if use is not None and use != "sig":
        raise JWSError(Text("the key's 'use' is not 'sig'", "密钥的 use 不是“sig”"))
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise JWSError(
            Text("the key's 'key_ops' do not include 'verify'", "密钥的 key_ops 不包含“verify”")
        )
    if key_alg is not None and key_alg != alg:
        raise JWSError(
            Text("the key's 'alg' is not the JWS 'alg'", "密钥的 alg 与 JWS 的 alg 不一致")
        )


class KeyCache:
    """Public JWKs imported once, by their required members; the oldest goes when full."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._keys: dict[tuple[str, ...], PublicKey] = {}

    def key_for(self, jwk: Mapping[str, Any], alg: str) -> PublicKey:
        """The imported key of `jwk`, if it is meant for and able to verify `alg`."""
        members = _required_members(jwk)
        key = self._keys.get(members)
        if key is None:
            key = _import(members)
            if len(self._keys) >= self.max_entries:
                del self._keys[next(iter(self._keys))]
            self._keys[members] = key
        if key.alg != alg:
            raise JWSError(
                Text(
                    f"an {members[0]} key cannot verify {alg}",
                    f"{members[0]} 密钥无法校验 {alg} 签名",
                )
            )
        _check_intended_use(jwk, alg)
        return key
