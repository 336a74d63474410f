"""Where the sandbox bank keeps what changes: each partner's seed, virtual clock and transfers.

The synthetic history is regenerated from the seed whenever it is needed; only what moves
(the clock, the money) is stored, through a `SandboxStore` the gateway provides over its
shared database, so every replica sees one bank. `MemorySandboxStore` keeps it in the process
(tests, and tools that run without a database).

Every change to a partner's world happens inside `store.world(partner_id)`: one transaction
that holds the partner's row locked, so concurrent payments on several replicas see each
other's debits, and that bumps the world's `version`, so each replica knows when to reload.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

TransferStatus = Literal["Pending", "Booked"]


@dataclass(frozen=True, slots=True)
class WorldState:
    """A partner's world: its seed, the end of its generated history, its virtual clock's
    offset from real time (seconds, never negative) and the version of what was stored."""

    seed: int
    anchor: datetime
    clock_offset: int
    version: int


@dataclass(frozen=True, slots=True)
class Transfer:
    """Money the sandbox bank moved on one of its customers' accounts."""

    reference: str
    account_ref: str
    amount_cents: int
    currency: str
    credit_debit: Literal["Credit", "Debit"]
    counterparty: str
    description: str
    status: TransferStatus
    created_at: datetime
    settles_at: datetime | None = None
    booked_at: datetime | None = None

    def signed_cents(self) -> int:
        return self.amount_cents if self.credit_debit == "Credit" else -self.amount_cents


class WorldTransaction(Protocol):
    """One partner's world, locked for the length of a transaction."""

    state: WorldState

    async def transfers(self, account_ref: str | None = None) -> list[Transfer]:
        """The transfers of the current seed (on one account, when given), oldest first."""
        ...

    async def find(self, reference: str) -> Transfer | None: ...

    async def add(self, transfer: Transfer) -> None: ...

    async def settle(self, reference: str, booked_at: datetime) -> None:
        """Book a pending transfer."""
        ...

    async def update(self, *, seed: int, anchor: datetime, clock_offset: int) -> None:
        """Change the seed, the history's end or the clock."""
        ...


class SandboxStore(Protocol):
    """The sandbox bank's persistence (see the module docstring)."""

    async def state(self, partner_id: str) -> WorldState | None:
        """The partner's world as stored, or None before its first use."""
        ...

    async def load(self, partner_id: str) -> tuple[WorldState, list[Transfer]] | None:
        """The stored state and the current seed's transfers, read together."""
        ...

    def world(
        self, partner_id: str, initial: WorldState
    ) -> AbstractAsyncContextManager[WorldTransaction]:
        """The partner's world, locked, created as `initial` if it does not exist yet; the
        version is bumped when the block changed anything and commits (the transaction's
        `state` then carries the new version)."""
        ...


@dataclass(slots=True)
class _MemoryWorld:
    state: WorldState
    transfers: list[tuple[int, Transfer]] = field(default_factory=list)  # (seed, transfer)


class _MemoryTransaction:
    def __init__(self, world: _MemoryWorld) -> None:
        self._world = world
        self.state = world.state
        self._transfers = list(world.transfers)
        self.changed = False

    async def transfers(self, account_ref: str | None = None) -> list[Transfer]:
        return [
            t
            for seed, t in self._transfers
            if seed == self.state.seed and account_ref in (None, t.account_ref)
        ]

    async def find(self, reference: str) -> Transfer | None:
        return next((t for _, t in self._transfers if t.reference == reference), None)

    async def add(self, transfer: Transfer) -> None:
        self._transfers.append((self.state.seed, transfer))
        self.changed = True

    async def settle(self, reference: str, booked_at: datetime) -> None:
        self._transfers = [
            (
                seed,
                dataclasses.replace(t, status="Booked", booked_at=booked_at)
                if t.reference == reference
                else t,
            )
            for seed, t in self._transfers
        ]
        self.changed = True

    async def update(self, *, seed: int, anchor: datetime, clock_offset: int) -> None:
        self.state = dataclasses.replace(
            self.state, seed=seed, anchor=anchor, clock_offset=clock_offset
        )
        self.changed = True


class MemorySandboxStore:
    """A `SandboxStore` in the process's memory (one replica only)."""

    def __init__(self) -> None:
        self._worlds: dict[str, _MemoryWorld] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def state(self, partner_id: str) -> WorldState | None:
        world = self._worlds.get(partner_id)
        return world.state if world is not None else None

    async def load(self, partner_id: str) -> tuple[WorldState, list[Transfer]] | None:
        world = self._worlds.get(partner_id)
        if world is None:
            return None
        seed = world.state.seed
        return world.state, [t for s, t in world.transfers if s == seed]

    @asynccontextmanager
    async def world(self, partner_id: str, initial: WorldState) -> AsyncIterator[WorldTransaction]:
        lock = self._locks.setdefault(partner_id, asyncio.Lock())
        async with lock:
            world = self._worlds.setdefault(partner_id, _MemoryWorld(initial))
            transaction = _MemoryTransaction(world)
            yield transaction
            if transaction.changed:
                world.transfers = transaction._transfers
                world.state = dataclasses.replace(
                    transaction.state, version=world.state.version + 1
                )
                transaction.state = world.state
