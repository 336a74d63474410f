"""Identifiers: opaque prefixed ids, and pairwise ids that differ per partner."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import secrets


def new_request_id() -> str:
    """A random UUID (version 4) in its usual text form, for request and interaction ids.

    Like `str(uuid.uuid4())`, at a third of its cost (it is made for every request); the
    bits come from the process's seeded generator, not the system's: an id must be unique,
    not secret.
    """
    h = f"{random.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


# RFC 4122 §4.4: the variant's two high bits are 10.
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def new_id(prefix: str, nbytes: int = 12) -> str:
    """An opaque random id such as `cns_4kq7...`."""
    return f"{prefix}_{base64.b32encode(secrets.token_bytes(nbytes)).decode().rstrip('=').lower()}"


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class Pairwise:
    """Stable pseudonymous ids per partner: the same customer or account gets a different id
    at each partner, and the core's own reference never leaves the gateway."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def _digest(self, kind: str, partner_id: str, core_ref: str) -> str:
        mac = hmac.new(self.secret, f"{kind}|{partner_id}|{core_ref}".encode(), hashlib.sha256)
        return base64.b32encode(mac.digest()[:15]).decode().lower()

    def customer(self, partner_id: str, customer_ref: str) -> str:
        return "psu_" + self._digest("psu", partner_id, customer_ref)

    def account(self, partner_id: str, account_ref: str) -> str:
        return "acc_" + self._digest("acc", partner_id, account_ref)

    def transaction(self, partner_id: str, transaction_ref: str) -> str:
        return "txn_" + self._digest("txn", partner_id, transaction_ref)
