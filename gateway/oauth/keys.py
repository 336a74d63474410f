"""Signing keys: generated on first start, rotated on demand, published until unused.

Keys live in `<data dir>/keys.json` (mode 0600), so every replica that mounts the same
file (a Kubernetes Secret) signs and verifies alike. A rotated key stays published in the
JWKS until every access token it signed has expired.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey, KeySet, RSAKey

from gateway.files import create_private, write_private

SIGNING_ALGS = ("ES256", "PS256")


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    alg: str
    private_jwk: dict[str, Any]
    created_at: float
    retired_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "alg": self.alg,
            "jwk": self.private_jwk,
            "created_at": self.created_at,
            "retired_at": self.retired_at,
        }


def generate_key(alg: str = "ES256") -> SigningKey:
    """A fresh private signing key for `alg` (ES256 on P-256, or PS256 on RSA-3072)."""
    if alg not in SIGNING_ALGS:
        raise ValueError(f"signing algorithm must be one of {SIGNING_ALGS}, not {alg!r}")
    kid = f"k{int(time.time())}-{secrets.token_hex(4)}"
    key: ECKey | RSAKey
    if alg == "ES256":
        key = ECKey.generate_key("P-256", parameters={"kid": kid, "alg": alg, "use": "sig"})
    else:
        key = RSAKey.generate_key(3072, parameters={"kid": kid, "alg": alg, "use": "sig"})
    return SigningKey(kid, alg, key.as_dict(private=True), time.time())


class KeyStore:
    """The gateway's signing keys, backed by a JSON file and re-read when it changes."""

    def __init__(self, path: Path, *, publish_grace: float) -> None:
        self.path = path
        self.publish_grace = publish_grace
        self._mtime = -1.0
        self._keys: list[SigningKey] = []
        self._private: dict[str, ECKey | RSAKey] = {}
        self._public = KeySet([])
        self._checked = 0.0

    def ensure(self) -> None:
        """Load the keys, generating the first one if the file does not exist."""
        if not self.path.exists():
            # Several workers may start at once: only the first file to appear counts.
            self._write([generate_key()], replace=False)
        self._load()

    def _write(self, keys: list[SigningKey], *, replace: bool = True) -> None:
        data = json.dumps({"keys": [k.as_dict() for k in keys]}, indent=2).encode()
        if replace:
            write_private(self.path, data)
        else:
            create_private(self.path, data)

    def _load(self) -> None:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError as exc:
            raise RuntimeError(
                f"signing keys file {self.path} is missing: run `obgw keys rotate` "
                "or start the gateway once with a writable OBGW_DATA_DIR"
            ) from exc
        if mtime == self._mtime:
            return
        data = json.loads(self.path.read_text())
        keys = [
            SigningKey(k["kid"], k["alg"], k["jwk"], k["created_at"], k.get("retired_at"))
            for k in data["keys"]
        ]
        if not any(k.retired_at is None for k in keys):
            raise RuntimeError(f"signing keys file {self.path} has no active key")
        self._keys = keys
        self._private = {k.kid: _import(k.private_jwk) for k in keys}
        self._public = KeySet([_import(k.private_jwk, public=True) for k in self._published()])
        self._mtime = mtime

    def refresh(self, *, min_interval: float = 1.0) -> None:
        """Pick up a rotation done by another process (cheap; rate-limited)."""
        now = time.monotonic()
        if now - self._checked >= min_interval:
            self._checked = now
            self._load()

    def _published(self) -> list[SigningKey]:
        now = time.time()
        return [
            k for k in self._keys if k.retired_at is None or k.retired_at + self.publish_grace > now
        ]

    @property
    def active(self) -> SigningKey:
        return next(k for k in reversed(self._keys) if k.retired_at is None)

    def private_key(self, kid: str) -> ECKey | RSAKey:
        return self._private[kid]

    def public_keyset(self) -> KeySet:
        return self._public

    def jwks(self) -> dict[str, Any]:
        """The public JWKS document (`/oauth/jwks`)."""
        self.refresh()
        return dict(self._public.as_dict(private=False))

    def signing_keys(self) -> list[SigningKey]:
        return list(self._keys)

    def rotate(self, alg: str = "ES256") -> SigningKey:
        """Add a new active key; retire the previous one (it stays published for a while)."""
        self.ensure()
        now = time.time()
        kept = [
            k
            if k.retired_at is not None
            else SigningKey(k.kid, k.alg, k.private_jwk, k.created_at, now)
            for k in self._keys
            if k.retired_at is None or k.retired_at + self.publish_grace > now
        ]
        new = generate_key(alg)
        self._write([*kept, new])
        self._mtime = -1.0
        self._load()
        return new


def _import(jwk: dict[str, Any], *, public: bool = False) -> ECKey | RSAKey:
    data = dict(jwk)
    if public:
        for private_member in ("d", "p", "q", "dp", "dq", "qi"):
            data.pop(private_member, None)
    if data["kty"] == "EC":
        return ECKey.import_key(data)
    return RSAKey.import_key(data)
