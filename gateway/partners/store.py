"""Rows of the `partners` and `clients` tables, within the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.partners.models import Client, Partner
from gateway.storage.tables import clients, partners


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


class PartnerStore:
    async def insert(self, conn: AsyncConnection, partner: Partner) -> None:
        await conn.execute(
            partners.insert().values(
                id=partner.id,
                name=partner.name,
                sector=partner.sector,
                tier=partner.tier,
                status=partner.status,
                contact_email=partner.contact_email,
                created_at=partner.created_at,
            )
        )

    async def get(self, conn: AsyncConnection, partner_id: str) -> Partner | None:
        row = (await conn.execute(partners.select().where(partners.c.id == partner_id))).first()
        return _partner(row) if row else None

    async def list(self, conn: AsyncConnection) -> list[Partner]:
        rows = await conn.execute(partners.select().order_by(partners.c.created_at))
        return [_partner(r) for r in rows]

    async def set_status(self, conn: AsyncConnection, partner_id: str, status: str) -> bool:
        result = await conn.execute(
            partners.update().where(partners.c.id == partner_id).values(status=status)
        )
        return bool(result.rowcount)


class ClientStore:
    async def insert(self, conn: AsyncConnection, client: Client) -> None:
        await conn.execute(
            clients.insert().values(
                client_id=client.client_id,
                partner_id=client.partner_id,
                kind=client.kind,
                name=client.name,
                secret_hash=client.secret_hash,
                jwks=client.jwks,
                auth_method=client.auth_method,
                scopes=" ".join(client.scopes),
                redirect_uris=list(client.redirect_uris),
                status=client.status,
                created_at=client.created_at,
            )
        )

    async def get(self, conn: AsyncConnection, client_id: str) -> Client | None:
        row = (await conn.execute(clients.select().where(clients.c.client_id == client_id))).first()
        return _client(row) if row else None

    async def list(self, conn: AsyncConnection, partner_id: str | None = None) -> list[Client]:
        stmt = clients.select().order_by(clients.c.created_at)
        if partner_id:
            stmt = stmt.where(clients.c.partner_id == partner_id)
        return [_client(r) for r in await conn.execute(stmt)]

    async def set_status(self, conn: AsyncConnection, client_id: str, status: str) -> bool:
        result = await conn.execute(
            clients.update().where(clients.c.client_id == client_id).values(status=status)
        )
        return bool(result.rowcount)
