"""Partners, their OAuth clients, and the words that describe them."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from gateway.ids import sha256_hex
from policies.messages import Text

# A client registers a few keys (two during a rotation); an assertion is checked against
# at most this many, so a client's JWKS bounds the cost of authenticating it.
MAX_CLIENT_KEYS = 4


class Sector(StrEnum):
    GOVERNMENT = "government"
    SCHOOL = "school"
    HOSPITAL = "hospital"
    TRANSPORT = "transport"
    OTHER = "other"


class Tier(StrEnum):
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"


class Status(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class ClientKind(StrEnum):
    PARTNER = "partner"
    OPS = "ops"


class AuthMethod(StrEnum):
    """Client authentication methods at the token, PAR, revocation and introspection endpoints."""

    PRIVATE_KEY_JWT = "private_key_jwt"
    CLIENT_SECRET_BASIC = "client_secret_basic"
    CLIENT_SECRET_POST = "client_secret_post"

    @classmethod
    def accepted(cls, *, strict: bool) -> list[str]:
        """What the profile accepts: the strict profile only `private_key_jwt` (FAPI 2.0)."""
        if strict:
            return [cls.PRIVATE_KEY_JWT.value]
        return [m.value for m in cls]


class RegistryError(ValueError):
    """A registry operation was given something it cannot accept; `message` says what to do."""

    def __init__(self, message: Text) -> None:
        super().__init__(str(message))
        self.message = message


@dataclass(frozen=True, slots=True)
class Partner:
    id: str
    name: str
    sector: str
    tier: str
    status: str
    created_at: datetime
    contact_email: str | None = None

    @property
    def is_active(self) -> bool:
        return self.status == Status.ACTIVE


@dataclass(frozen=True, slots=True)
class Client:
    """A registered OAuth client (partner application or ops console)."""

    client_id: str
    partner_id: str | None
    kind: str
    name: str
    auth_method: str
    scopes: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    status: str
    created_at: datetime
    secret_hash: str | None = None
    jwks: dict[str, Any] | None = field(default=None)

    @property
    def is_active(self) -> bool:
        return self.status == Status.ACTIVE

    def check_secret(self, secret: str) -> bool:
        if self.secret_hash is None:
            return False
        return hmac.compare_digest(self.secret_hash, sha256_hex(secret))


@dataclass(frozen=True, slots=True)
class IssuedClient:
    """A newly registered client and, for secret-based clients, the secret (shown once)."""

    client: Client
    client_secret: str | None
