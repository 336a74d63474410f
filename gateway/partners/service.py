"""The partner registry: registering, suspending and looking up partners and clients.

Client secrets are random 256-bit values, stored only as SHA-256 hashes (a slow hash adds
nothing to a secret of that entropy); client public keys are stored as a JWKS.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from gateway.clock import utcnow
from gateway.ids import new_id, sha256_hex
from gateway.partners.client_keys import validate_jwks
from gateway.partners.models import (
    AuthMethod,
    Client,
    ClientKind,
    IssuedClient,
    Partner,
    RegistryError,
    Sector,
    Status,
    Tier,
)
from gateway.partners.redirect_uris import check_redirect_uris
from gateway.partners.store import ClientStore, PartnerStore
from gateway.revocations import Revocations
from gateway.storage.database import Database, UnitOfWork
from policies.messages import Text
from policies.pipeline import Caller
from policies.vocabulary import ALL_SCOPES, OPS_SCOPES

# Revocation feed entries for suspended partners and revoked clients outlive any token.
REVOKED_FOR = timedelta(days=3650)

UNKNOWN_SCOPES = Text(
    "Unknown scopes: {scopes}. Choose among: " + " ".join(ALL_SCOPES) + ".",
    "未知的授权范围：{scopes}。可选范围：" + " ".join(ALL_SCOPES) + "。",
)
OPS_SCOPES_FOR_PARTNER = Text(
    "Partner clients cannot hold the operations scopes (ops:read, ops:admin).",
    "合作方客户端不能持有运营授权范围（ops:read、ops:admin）。",
)
NO_PARTNER = Text(
    "There is no partner {partner_id}: create it first (obgw partners create).",
    "合作方 {partner_id} 不存在：请先创建（obgw partners create）。",
)
PARTNER_NAME = Text(
    "A partner name is 1 to 200 characters.",
    "合作方名称须为 1 至 200 个字符。",
)
UNKNOWN_SECTOR = Text(
    "'{value}' is not a sector: choose among " + ", ".join(Sector) + ".",
    "“{value}”不是有效的行业：可选 " + "、".join(Sector) + "。",
)
UNKNOWN_TIER = Text(
    "'{value}' is not a tier: choose among " + ", ".join(Tier) + ".",
    "“{value}”不是有效的等级：可选 " + "、".join(Tier) + "。",
)


class Registry:
    """Reads and changes partners and clients; each change is one unit of work."""

    def __init__(self, db: Database, revocations: Revocations) -> None:
        self.db = db
        self.revocations = revocations
        self.partners = PartnerStore()
        self.clients = ClientStore()

    async def create_partner(
        self,
        name: str,
        sector: str,
        tier: str = "bronze",
        contact_email: str | None = None,
        uow: UnitOfWork | None = None,
    ) -> Partner:
        if not name.strip() or len(name) > 200:
            raise RegistryError(PARTNER_NAME)
        if sector not in set(Sector):
            raise RegistryError(UNKNOWN_SECTOR.format(value=sector[:40]))
        if tier not in set(Tier):
            raise RegistryError(UNKNOWN_TIER.format(value=tier[:40]))
        partner = Partner(
            new_id("ptn"),
            name.strip(),
            Sector(sector).value,
            Tier(tier).value,
            Status.ACTIVE.value,
            utcnow(),
            contact_email,
        )
        async with self._unit(uow) as uow:
            await self.partners.insert(uow.conn, partner)
        return partner

    async def get_partner(self, partner_id: str) -> Partner | None:
        async with self.db.read() as conn:
            return await self.partners.get(conn, partner_id)

    async def list_partners(self) -> list[Partner]:
        async with self.db.read() as conn:
            return await self.partners.list(conn)

    async def suspend_partner(self, partner_id: str) -> bool:
        """Suspend a partner: no new tokens, and every replica refuses its tokens."""
        async with self.db.transaction() as uow:
            changed = await self.partners.set_status(uow.conn, partner_id, Status.SUSPENDED)
            if changed:
                await self.revocations.record(uow, "partner", partner_id, utcnow() + REVOKED_FOR)
        return changed

    async def create_client(
        self,
        *,
        partner_id: str | None,
        scopes: list[str],
        redirect_uris: list[str] | None = None,
        jwks: dict[str, Any] | None = None,
        auth_method: str | None = None,
        name: str = "",
        kind: str = ClientKind.PARTNER,
        uow: UnitOfWork | None = None,
    ) -> IssuedClient:
        """Register a client: with a JWKS it uses private_key_jwt, else it gets a secret."""
        unknown = set(scopes) - set(ALL_SCOPES)
        if unknown:
            raise RegistryError(UNKNOWN_SCOPES.format(scopes=" ".join(sorted(unknown))[:200]))
        if kind == ClientKind.PARTNER and set(scopes) & set(OPS_SCOPES):
            raise RegistryError(OPS_SCOPES_FOR_PARTNER)
        redirect_uris = check_redirect_uris(redirect_uris or [])
        secret: str | None = None
        secret_hash: str | None = None
        if jwks is not None:
            jwks = validate_jwks(jwks)
            method = AuthMethod.PRIVATE_KEY_JWT.value
        else:
            method = AuthMethod(auth_method or AuthMethod.CLIENT_SECRET_BASIC).value
            secret = secrets.token_urlsafe(32)
            secret_hash = sha256_hex(secret)
        client = Client(
            client_id=new_id("cli" if kind == ClientKind.PARTNER else "ops", 10),
            partner_id=partner_id,
            kind=str(kind),
            name=name or str(kind),
            auth_method=method,
            scopes=tuple(dict.fromkeys(scopes)),
            redirect_uris=tuple(redirect_uris or ()),
            status=Status.ACTIVE.value,
            created_at=utcnow(),
            secret_hash=secret_hash,
            jwks=jwks,
        )
        async with self._unit(uow) as uow:
            if partner_id is not None and await self.partners.get(uow.conn, partner_id) is None:
                raise RegistryError(NO_PARTNER.format(partner_id=partner_id))
            await self.clients.insert(uow.conn, client)
        return IssuedClient(client, secret)

    async def get_client(self, client_id: str) -> Client | None:
        async with self.db.read() as conn:
            return await self.clients.get(conn, client_id)

    async def active_client(self, client_id: str) -> Client | None:
        """The client if it may act: itself active, and its partner (if any) active."""
        async with self.db.read() as conn:
            client = await self.clients.get(conn, client_id)
            if client is None or not client.is_active:
                return None
            if client.partner_id is not None:
                partner = await self.partners.get(conn, client.partner_id)
                if partner is None or not partner.is_active:
                    return None
        return client

    async def verify_secret(self, client_id: str, secret: str) -> Caller | None:
        """`policies.authentication.ClientSecrets`: a partner client's id and secret."""
        client = await self.active_client(client_id)
        if client is None or client.partner_id is None or not client.check_secret(secret):
            return None
        return Caller(client.client_id, client.partner_id)

    async def list_clients(self, partner_id: str | None = None) -> list[Client]:
        async with self.db.read() as conn:
            return await self.clients.list(conn, partner_id)

    async def revoke_client(self, client_id: str) -> bool:
        """Revoke a client: no new tokens, and every replica refuses its tokens."""
        async with self.db.transaction() as uow:
            changed = await self.clients.set_status(uow.conn, client_id, Status.REVOKED)
            if changed:
                await self.revocations.record(uow, "client", client_id, utcnow() + REVOKED_FOR)
        return changed

    @asynccontextmanager
    async def _unit(self, uow: UnitOfWork | None) -> AsyncIterator[UnitOfWork]:
        """The caller's unit of work (several changes that commit together), else a new one."""
        if uow is not None:
            yield uow
            return
        async with self.db.transaction() as new:
            yield new
