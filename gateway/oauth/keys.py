"""Token signing keys: generated, sealed under the gateway secret, held in memory per replica.

A key is active (it signs, and verifies), then retired by a rotation (its private part is
deleted; it verifies only tokens signed before its retirement, until the last of them has
expired), then gone; or it is revoked at any time and verifies nothing from then on. The keys
live in the shared database (`gateway.oauth.signing_keys`); a `KeyRing` is what one replica
currently knows of them.
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.jwk import ECKey, RSAKey

from gateway.clock import utcnow
from policies.access_tokens import VerificationKey
from policies.compact_jws import b64url
from policies.messages import Text

SIGNING_ALGS = ("ES256", "PS256")
_SEAL_VERSION = "v1"


class SigningKeyError(RuntimeError):
    """A signing key cannot be generated, opened or used; `message` names the fix."""

    def __init__(self, message: Text) -> None:
        super().__init__(str(message))
        self.message = message


RETIRED = Text(
    "The signing key {kid} has no private part: it was retired or revoked.",
    "签名密钥 {kid} 已无私钥成分：它已停用或被吊销。",
)
OTHER_SECRET = Text(
    "The signing key {kid} cannot be opened with this gateway secret: every replica and the "
    "`obgw keys` commands need the same OBGW_SECRET_KEY.",
    "无法用当前网关密钥打开签名密钥 {kid}：所有副本和 `obgw keys` 命令须使用同一个 "
    "OBGW_SECRET_KEY。",
)
UNKNOWN_ALG = Text(
    "The signing algorithm must be " + " or ".join(SIGNING_ALGS) + ", not '{alg}'.",
    "签名算法必须为 " + " 或 ".join(SIGNING_ALGS) + "，而不是“{alg}”。",
)
NOT_LOADED = Text(
    "No active signing key is loaded yet: the gateway loads it at start-up.",
    "尚未加载有效的签名密钥：网关会在启动时加载。",
)


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One signing key: its public JWK, its life, and (only while active) its sealed private JWK."""

    kid: str
    alg: str
    public_jwk: dict[str, Any]
    created_at: datetime
    sealed: str | None = None
    is_active: bool = False
    retired_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "active" if self.is_active else "retired"

    def is_trusted(self, now: datetime, grace: timedelta) -> bool:
        """Whether tokens it signed may still be valid: active, or retired less than `grace` ago."""
        if self.revoked_at is not None:
            return False
        return self.is_active or (self.retired_at is not None and self.retired_at + grace > now)

    def retired(self, at: datetime) -> SigningKey:
        """This key retired at `at`, with its private part gone."""
        return replace(self, sealed=None, is_active=False, retired_at=self.retired_at or at)


@dataclass(frozen=True, slots=True)
class Signer:
    """The active key, opened: what the token issuer signs with."""

    kid: str
    alg: str
    key: ECKey | RSAKey


class KeySealer:
    """Seals private JWKs with AES-256-GCM under a key derived from the gateway secret.

    A database dump then holds no usable signing key; every replica shares the secret
    (`OBGW_SECRET_KEY`), so every replica can open the active key.
    """

    def __init__(self, secret: bytes) -> None:
        derived = HKDF(hashes.SHA256(), 32, salt=None, info=b"obgw signing keys").derive(secret)
        self._aead = AESGCM(derived)

    def seal(self, kid: str, private_jwk: dict[str, Any]) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, orjson.dumps(private_jwk), kid.encode())
        return f"{_SEAL_VERSION}.{b64url(nonce + sealed)}"

    def open(self, key: SigningKey) -> Signer:
        """The private part of `key`, which must still be sealed in it (an active key)."""
        kid = key.kid
        if key.sealed is None:
            raise SigningKeyError(RETIRED.format(kid=kid))
        version, _, body = key.sealed.partition(".")
        try:
            if version != _SEAL_VERSION:
                raise ValueError(version)
            raw = _b64decode(body)
            jwk = orjson.loads(self._aead.decrypt(raw[:12], raw[12:], kid.encode()))
        except (InvalidTag, ValueError) as exc:
            raise SigningKeyError(OTHER_SECRET.format(kid=kid)) from exc
        return Signer(kid, key.alg, _import(jwk))


def _b64decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def generate_key(alg: str, sealer: KeySealer) -> SigningKey:
    """A new active key for `alg` (ES256 on P-256, PS256 on RSA-3072), its private part sealed."""
    if alg not in SIGNING_ALGS:
        raise SigningKeyError(UNKNOWN_ALG.format(alg=alg[:20]))
    kid = f"k{int(time.time())}-{secrets.token_hex(4)}"
    parameters: Any = {"kid": kid, "alg": alg, "use": "sig"}
    key: ECKey | RSAKey
    if alg == "ES256":
        key = ECKey.generate_key("P-256", parameters=parameters)
    else:
        key = RSAKey.generate_key(3072, parameters=parameters)
    return SigningKey(
        kid=kid,
        alg=alg,
        public_jwk=dict(key.as_dict(private=False)),
        created_at=utcnow(),
        sealed=sealer.seal(kid, dict(key.as_dict(private=True))),
        is_active=True,
    )


def _import(jwk: dict[str, Any]) -> ECKey | RSAKey:
    if jwk.get("kty") == "EC":
        return ECKey.import_key(jwk)
    return RSAKey.import_key(jwk)


class KeyRing:
    """What this replica signs with, trusts and publishes; replaced whole on every change.

    `version` changes with every change, so verifiers drop what they verified with a key
    that is no longer trusted.
    """

    def __init__(self, grace: timedelta) -> None:
        self.grace = grace
        self.version = 0
        self._keys: dict[str, SigningKey] = {}
        self._verification: dict[str, VerificationKey] = {}
        self._signer: Signer | None = None

    def apply(self, keys: list[SigningKey], signer: Signer | None) -> None:
        """Replace the ring with `keys` (as the database holds them) and the opened active key."""
        self._keys = {k.kid: k for k in keys}
        self._verification = {
            k.kid: VerificationKey(
                kid=k.kid,
                alg=k.alg,
                key=_import(k.public_jwk),
                retired_at=k.retired_at.timestamp() if k.retired_at else None,
            )
            for k in keys
            if k.revoked_at is None
        }
        self._signer = signer
        self.version += 1

    @property
    def keys(self) -> list[SigningKey]:
        return list(self._keys.values())

    @property
    def current_signer(self) -> Signer | None:
        return self._signer

    @property
    def signer(self) -> Signer:
        if self._signer is None:
            raise SigningKeyError(NOT_LOADED)
        return self._signer

    def verification_key(self, kid: str) -> VerificationKey | None:
        """`policies.access_tokens.TokenKeys`: the key `kid` if tokens it signed may be valid."""
        key = self._keys.get(kid)
        if key is None or not key.is_trusted(utcnow(), self.grace):
            return None
        return self._verification.get(kid)

    def jwks(self) -> dict[str, Any]:
        """The public JWKS: the active key first, then retired keys still trusted."""
        now = utcnow()
        trusted = [k for k in self._keys.values() if k.is_trusted(now, self.grace)]
        trusted.sort(key=lambda k: (not k.is_active, -k.created_at.timestamp()))
        return {
            "keys": [{**k.public_jwk, "kid": k.kid, "alg": k.alg, "use": "sig"} for k in trusted]
        }
