"""Fast DPoP proofs (RFC 9449) for load generation: ES256 signed with `cryptography` directly.

joserfc is correct but spends most of its time outside the signature; a benchmark needs tens
of thousands of proofs in a few seconds, so the JOSE plumbing is done by hand here: the
protected header is the same for every proof of a key and is encoded once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JOSE wants it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json_b64(value: dict[str, object]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def access_token_hash(access_token: str) -> str:
    """The `ath` claim: base64url(SHA-256(access token)) (RFC 9449 §4.2)."""
    return b64url(hashlib.sha256(access_token.encode()).digest())


class ProofKey:
    """A P-256 key that signs DPoP proofs."""

    def __init__(self) -> None:
        self._private = ec.generate_private_key(ec.SECP256R1())
        numbers = self._private.public_key().public_numbers()
        self.public_jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
        }
        self._header = _json_b64({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.public_jwk})
        self._algorithm = ec.ECDSA(hashes.SHA256())

    @property
    def jkt(self) -> str:
        """The RFC 7638 thumbprint of the public key (the `dpop_jkt` / `cnf.jkt` value)."""
        members = {k: self.public_jwk[k] for k in ("crv", "kty", "x", "y")}
        canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
        return b64url(hashlib.sha256(canonical.encode()).digest())

    def proof(
        self, method: str, url: str, access_token: str | None = None, iat: int | None = None
    ) -> str:
        """One compact proof for `method url` with a fresh `jti`."""
        claims: dict[str, object] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method,
            "htu": url,
            "iat": int(time.time()) if iat is None else iat,
        }
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        signing_input = f"{self._header}.{_json_b64(claims)}"
        der = self._private.sign(signing_input.encode(), self._algorithm)
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def proofs(self, count: int, method: str, url: str, access_token: str) -> Iterator[str]:
        """`count` proofs with unique `jti`s and the same `iat` (now)."""
        iat = int(time.time())
        for _ in range(count):
            yield self.proof(method, url, access_token, iat)


def write_proofs(path: Path, key: ProofKey, count: int, url: str, access_token: str) -> None:
    """Write `count` GET proofs for `url`, one per line (what bench/lua/dpop.lua reads)."""
    with path.open("w") as fh:
        for proof in key.proofs(count, "GET", url, access_token):
            fh.write(proof)
            fh.write("\n")
