"""The partner registry: partners and their OAuth clients.

Client secrets are random 256-bit values, stored only as SHA-256 hashes (a slow hash adds
nothing to a secret of that entropy); client public keys are stored as a JWKS.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from gateway.ids import new_id, sha256_hex
from gateway.oauth.store import record_revocation
from gateway.storage.database import Database
from gateway.storage.tables import clients, partners

PARTNER_SCOPES = ("products", "consents", "collections", "events")
CUSTOMER_SCOPES = ("accounts", "payments", "deposits", "loans", "wealth")
OPS_SCOPES = ("ops:read", "ops:admin")
ALL_SCOPES = PARTNER_SCOPES + CUSTOMER_SCOPES + OPS_SCOPES
# Revocation feed entries for suspended partners and revoked clients outlive any token.
REVOKED_FOR = timedelta(days=3650)


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


class AuthMethod(StrEnum):
    PRIVATE_KEY_JWT = "private_key_jwt"
    CLIENT_SECRET_BASIC = "client_secret_basic"
    CLIENT_SECRET_POST = "client_secret_post"


class RegistryError(ValueError):
    """A registry operation was given something it cannot accept."""


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
        return self.status == "active"


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
        return self.status == "active"

    def check_secret(self, secret: str) -> bool:
        if self.secret_hash is None:
            return False
        return hmac.compare_digest(self.secret_hash, sha256_hex(secret))


@dataclass(frozen=True, slots=True)
class IssuedClient:
    client: Client
    client_secret: str | None


def _now() -> datetime:
    return datetime.now(UTC)


def _partner(row: Any) -> Partner:
    return Partner(
        row.id, row.name, row.sector, row.tier, row.status, row.created_at, row.contact_email
    )


def _client(row: Any) -> Client:
    return Client(
        client_id=row.client_id,
        partner_id=row.partner_id,
        kind=row.kind,
        name=row.name,
        auth_method=row.auth_method,
        scopes=tuple(row.scopes.split()),
        redirect_uris=tuple(row.redirect_uris or ()),
        status=row.status,
        created_at=row.created_at,
        secret_hash=row.secret_hash,
        jwks=row.jwks,
    )


def validate_jwks(jwks: Any) -> dict[str, Any]:
    """A client's public JWKS: at least one EC or RSA public key, no private members."""
    from joserfc.jwk import KeySet

    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise RegistryError("the client JWKS must be an object with a non-empty 'keys' list")
    for key in jwks["keys"]:
        if not isinstance(key, dict) or key.get("kty") not in ("EC", "RSA"):
            raise RegistryError("client keys must be EC (P-256) or RSA public keys")
        if {"d", "p", "q"} & set(key):
            raise RegistryError("the client JWKS contains private key material")
    try:
        KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except Exception as exc:
        raise RegistryError(f"the client JWKS is not valid: {exc}") from exc
    return jwks


class Registry:
    """Reads and writes partners and clients."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_partner(
        self,
        name: str,
        sector: str,
        tier: str = "bronze",
        contact_email: str | None = None,
    ) -> Partner:
        if not name.strip() or len(name) > 200:
            raise RegistryError("a partner name is 1-200 characters")
        sector, tier = Sector(sector).value, Tier(tier).value
        partner = Partner(
            new_id("ptn"), name.strip(), sector, tier, "active", _now(), contact_email
        )
        async with self.db.begin() as conn:
            await conn.execute(
                partners.insert().values(
                    id=partner.id,
                    name=partner.name,
                    sector=sector,
                    tier=tier,
                    status=partner.status,
                    contact_email=contact_email,
                    created_at=partner.created_at,
                )
            )
        return partner

    async def get_partner(self, partner_id: str) -> Partner | None:
        async with self.db.connect() as conn:
            row = (await conn.execute(partners.select().where(partners.c.id == partner_id))).first()
        return _partner(row) if row else None

    async def list_partners(self) -> list[Partner]:
        async with self.db.connect() as conn:
            rows = await conn.execute(partners.select().order_by(partners.c.created_at))
            return [_partner(r) for r in rows]

    async def suspend_partner(self, partner_id: str) -> bool:
        """Suspend a partner: no new tokens, and every replica refuses its tokens."""
        async with self.db.begin() as conn:
            result = await conn.execute(
                partners.update().where(partners.c.id == partner_id).values(status="suspended")
            )
            if result.rowcount:
                await record_revocation(conn, "partner", partner_id, _now() + REVOKED_FOR)
        return bool(result.rowcount)

    async def create_client(
        self,
        *,
        partner_id: str | None,
        scopes: list[str],
        redirect_uris: list[str] | None = None,
        jwks: dict[str, Any] | None = None,
        auth_method: str | None = None,
        name: str = "",
        kind: str = "partner",
    ) -> IssuedClient:
        """Register a client: with a JWKS it uses private_key_jwt, else it gets a secret."""
        unknown = set(scopes) - set(ALL_SCOPES)
        if unknown:
            raise RegistryError(f"unknown scopes: {' '.join(sorted(unknown))}")
        if kind == "partner" and set(scopes) & set(OPS_SCOPES):
            raise RegistryError("partner clients cannot hold ops scopes")
        for uri in redirect_uris or []:
            if (
                not uri.startswith(
                    ("https://", "http://127.0.0.1", "http://localhost", "http://[::1]")
                )
                or "#" in uri
            ):
                raise RegistryError(
                    f"redirect URI {uri!r} must be https (or a loopback http URI) without fragment"
                )
        secret: str | None = None
        secret_hash: str | None = None
        if jwks is not None:
            jwks = validate_jwks(jwks)
            method = AuthMethod.PRIVATE_KEY_JWT.value
        else:
            method = AuthMethod(auth_method or AuthMethod.CLIENT_SECRET_BASIC).value
            secret = secrets.token_urlsafe(32)
            secret_hash = sha256_hex(secret)
        if partner_id is not None and await self.get_partner(partner_id) is None:
            raise RegistryError(f"no partner {partner_id}")
        client = Client(
            client_id=new_id("cli" if kind == "partner" else "ops", 10),
            partner_id=partner_id,
            kind=kind,
            name=name or kind,
            auth_method=method,
            scopes=tuple(dict.fromkeys(scopes)),
            redirect_uris=tuple(redirect_uris or ()),
            status="active",
            created_at=_now(),
            secret_hash=secret_hash,
            jwks=jwks,
        )
        async with self.db.begin() as conn:
            await conn.execute(
                clients.insert().values(
                    client_id=client.client_id,
                    partner_id=partner_id,
                    kind=kind,
                    name=client.name,
                    secret_hash=secret_hash,
                    jwks=jwks,
                    auth_method=method,
                    scopes=" ".join(client.scopes),
                    redirect_uris=list(client.redirect_uris),
                    status="active",
                    created_at=client.created_at,
                )
            )
        return IssuedClient(client, secret)

    async def get_client(self, client_id: str) -> Client | None:
        async with self.db.connect() as conn:
            row = (
                await conn.execute(clients.select().where(clients.c.client_id == client_id))
            ).first()
        return _client(row) if row else None

    async def active_client(self, client_id: str) -> Client | None:
        """The client if it may act: itself active, and its partner (if any) active."""
        client = await self.get_client(client_id)
        if client is None or not client.is_active:
            return None
        if client.partner_id is not None:
            partner = await self.get_partner(client.partner_id)
            if partner is None or not partner.is_active:
                return None
        return client

    async def list_clients(self, partner_id: str | None = None) -> list[Client]:
        stmt = clients.select().order_by(clients.c.created_at)
        if partner_id:
            stmt = stmt.where(clients.c.partner_id == partner_id)
        async with self.db.connect() as conn:
            return [_client(r) for r in await conn.execute(stmt)]

    async def revoke_client(self, client_id: str) -> bool:
        """Revoke a client: no new tokens, and every replica refuses its tokens."""
        async with self.db.begin() as conn:
            result = await conn.execute(
                clients.update().where(clients.c.client_id == client_id).values(status="revoked")
            )
            if result.rowcount:
                await record_revocation(conn, "client", client_id, _now() + REVOKED_FOR)
        return bool(result.rowcount)

    async def count_partners(self) -> int:
        async with self.db.connect() as conn:
            return int(
                (await conn.execute(sa.select(sa.func.count()).select_from(partners))).scalar_one()
            )
