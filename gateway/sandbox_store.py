"""The sandbox bank's state in the gateway's database (`sandbox.store.SandboxStore`).

A partner's row in `sandbox_worlds` is the lock of its world: a world transaction selects it
`FOR UPDATE` (PostgreSQL; SQLite's write transactions are serial anyway), so payments on
several replicas queue on it and each sees the debits committed before it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.clock import utcnow
from gateway.storage.database import Database
from gateway.storage.tables import sandbox_transfers, sandbox_worlds
from sandbox.store import Transfer, WorldState, WorldTransaction


def _state(row: Any) -> WorldState:
    return WorldState(row.seed, row.anchor, int(row.clock_offset), int(row.version))


def _transfer(row: Any) -> Transfer:
    return Transfer(
        reference=row.reference,
        account_ref=row.account_ref,
        amount_cents=int(row.amount_cents),
        currency=row.currency,
        credit_debit=row.credit_debit,
        counterparty=row.counterparty,
        description=row.description,
        status=row.status,
        created_at=row.created_at,
        settles_at=row.settles_at,
        booked_at=row.booked_at,
    )


class _Transaction:
    """`sandbox.store.WorldTransaction` on one connection inside a unit of work."""

    def __init__(self, conn: AsyncConnection, partner_id: str, state: WorldState) -> None:
        self.conn = conn
        self.partner_id = partner_id
        self.state = state
        self.changed = False

    async def transfers(self, account_ref: str | None = None) -> list[Transfer]:
        return await _transfers(self.conn, self.partner_id, self.state.seed, account_ref)

    async def find(self, reference: str) -> Transfer | None:
        t = sandbox_transfers
        row = (
            await self.conn.execute(
                t.select().where(t.c.partner_id == self.partner_id, t.c.reference == reference)
            )
        ).first()
        return _transfer(row) if row is not None else None

    async def add(self, transfer: Transfer) -> None:
        await self.conn.execute(
            sandbox_transfers.insert().values(
                partner_id=self.partner_id,
                seed=self.state.seed,
                **{f.name: getattr(transfer, f.name) for f in dataclasses.fields(transfer)},
            )
        )
        self.changed = True

    async def settle(self, reference: str, booked_at: datetime) -> None:
        t = sandbox_transfers
        await self.conn.execute(
            t.update()
            .where(t.c.partner_id == self.partner_id, t.c.reference == reference)
            .values(status="Booked", booked_at=booked_at)
        )
        self.changed = True

    async def update(self, *, seed: int, anchor: datetime, clock_offset: int) -> None:
        self.state = dataclasses.replace(
            self.state, seed=seed, anchor=anchor, clock_offset=clock_offset
        )
        self.changed = True


async def _transfers(
    conn: AsyncConnection, partner_id: str, seed: int, account_ref: str | None = None
) -> list[Transfer]:
    t = sandbox_transfers
    stmt = t.select().where(t.c.partner_id == partner_id, t.c.seed == seed)
    if account_ref is not None:
        stmt = stmt.where(t.c.account_ref == account_ref)
    rows = await conn.execute(stmt.order_by(t.c.id))
    return [_transfer(row) for row in rows]


class DatabaseSandboxStore:
    """The sandbox bank's seeds, clocks and transfers in `sandbox_worlds`/`sandbox_transfers`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def state(self, partner_id: str) -> WorldState | None:
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    sandbox_worlds.select().where(sandbox_worlds.c.partner_id == partner_id)
                )
            ).first()
        return _state(row) if row is not None else None

    async def load(self, partner_id: str) -> tuple[WorldState, list[Transfer]] | None:
        async with self.db.read() as conn, conn.begin():
            row = (
                await conn.execute(
                    sandbox_worlds.select().where(sandbox_worlds.c.partner_id == partner_id)
                )
            ).first()
            if row is None:
                return None
            state = _state(row)
            return state, await _transfers(conn, partner_id, state.seed)

    @asynccontextmanager
    async def world(self, partner_id: str, initial: WorldState) -> AsyncIterator[WorldTransaction]:
        w = sandbox_worlds
        for _ in range(2):
            async with self.db.transaction() as uow:
                locked = (
                    await uow.conn.execute(
                        w.select().where(w.c.partner_id == partner_id).with_for_update()
                    )
                ).first()
                if locked is not None:
                    transaction = _Transaction(uow.conn, partner_id, _state(locked))
                    yield transaction
                    if transaction.changed:
                        await self._save(uow.conn, partner_id, transaction.state)
                        transaction.state = dataclasses.replace(
                            transaction.state, version=int(locked.version) + 1
                        )
                    return
            await self._create(partner_id, initial)
        raise RuntimeError(f"the sandbox world of {partner_id} cannot be created")

    async def _save(self, conn: AsyncConnection, partner_id: str, state: WorldState) -> None:
        w = sandbox_worlds
        await conn.execute(
            w.update()
            .where(w.c.partner_id == partner_id)
            .values(
                seed=state.seed,
                anchor=state.anchor,
                clock_offset=state.clock_offset,
                version=w.c.version + 1,
                updated_at=utcnow(),
            )
        )

    async def _create(self, partner_id: str, initial: WorldState) -> None:
        """Store the partner's world as `initial` (a replica that wins the race creates it)."""
        try:
            async with self.db.transaction() as uow:
                await uow.conn.execute(
                    sandbox_worlds.insert().values(
                        partner_id=partner_id,
                        seed=initial.seed,
                        anchor=initial.anchor,
                        clock_offset=initial.clock_offset,
                        version=initial.version,
                        updated_at=utcnow(),
                    )
                )
        except IntegrityError:
            pass  # created meanwhile by another request or replica
