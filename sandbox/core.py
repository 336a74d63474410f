"""`SandboxCore`: the simulated core bank behind `OBGW_ENVIRONMENT=sandbox`.

One instance serves every partner. Each partner's world (`sandbox.data`) is generated from the
partner id, a seed and the end of its history, and the money the bank moved since (transfers)
is applied on top. Seed, history end, the partner's virtual clock and the transfers live in a
`SandboxStore` (the gateway's shared database), so every replica runs the same bank: a replica
checks the stored version at most every `refresh_after` seconds and rebuilds the world when it
changed. The cache keeps the `max_worlds` most recently used worlds (about 64 KB each); an
evicted world is rebuilt from the store when next used.

Money moves by `initiate_payment`, under the magic values of `sandbox.magic`, inside the
partner's locked world, so concurrent payments see each other's debits. Each partner has a
virtual clock (`now`, `advance_clock`): pending transfers settle when it passes their time.
Core references are namespaced by partner, and a reference outside the asking partner's world
is `CoreNotFound`. Rates are percentages per annum.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from adapters.contract import (
    Account,
    AccountStatus,
    Balance,
    BalanceType,
    Capability,
    CoreContext,
    CoreHealth,
    CoreNotFound,
    CorePayment,
    CoreRejected,
    CoreTimeout,
    CoreUnavailable,
    Customer,
    DepositProduct,
    LoanProduct,
    Money,
    Page,
    PageRequest,
    PaymentOrder,
    PaymentStatus,
    TimeWindow,
    Transaction,
    WealthProduct,
    paginate,
)
from sandbox.data import AccountBook, PartnerWorld, generate_world
from sandbox.magic import PENDING_FOR, Magic, magic
from sandbox.store import MemorySandboxStore, SandboxStore, Transfer, WorldState

MAX_WORLDS = 256
TEST_PASSWORD = "sandbox"
ONE_TIME_CODE = "123456"
CAPABILITIES = frozenset(
    {
        Capability.CUSTOMERS,
        Capability.ACCOUNTS,
        Capability.PAYMENTS,
        Capability.DEPOSITS,
        Capability.LOANS,
        Capability.WEALTH,
    }
)


def _cny(value: str) -> Money:
    return Money(Decimal(value).quantize(Decimal("0.01")))


DEPOSIT_PRODUCTS = (
    DepositProduct("deposit/3m", "3个月整存整取", 3, Decimal("1.05"), _cny("50")),
    DepositProduct("deposit/6m", "6个月整存整取", 6, Decimal("1.25"), _cny("50")),
    DepositProduct("deposit/12m", "1年期整存整取", 12, Decimal("1.45"), _cny("50")),
    DepositProduct(
        "deposit/36m",
        "3年期大额存单",
        36,
        Decimal("2.35"),
        _cny("200000"),
        description="Large-denomination certificate of deposit.",
    ),
)
LOAN_PRODUCTS = (
    LoanProduct(
        "loan/consumer", "个人消费贷款", _cny("5000"), _cny("300000"), 6, 36, Decimal("3.60")
    ),
    LoanProduct(
        "loan/student", "国家助学贷款", _cny("1000"), _cny("20000"), 12, 240, Decimal("2.95")
    ),
    LoanProduct(
        "loan/small-business",
        "小微企业经营贷款",
        _cny("50000"),
        _cny("3000000"),
        12,
        60,
        Decimal("3.85"),
        description="For sole proprietors and small firms; amounts from 500000.00 are declined.",
    ),
)
WEALTH_PRODUCTS = (
    WealthProduct(
        "wealth/r1", "天天利现金管理", "R1", Decimal("1.85"), _cny("1"), Decimal("1.0000")
    ),
    WealthProduct(
        "wealth/r2", "稳享90天固收", "R2", Decimal("2.60"), _cny("10000"), Decimal("1.0213")
    ),
    WealthProduct(
        "wealth/r3", "安盈平衡混合", "R3", Decimal("3.50"), _cny("10000"), Decimal("1.1034")
    ),
    WealthProduct(
        "wealth/r4", "成长精选权益", "R4", Decimal("5.00"), _cny("50000"), Decimal("0.9876")
    ),
    WealthProduct(
        "wealth/r5", "环球量化对冲", "R5", Decimal("7.00"), _cny("1000000"), Decimal("1.2345")
    ),
)


def _utc_now(partner_id: str) -> datetime:
    return datetime.now(UTC)


def _as_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC so they compare with the core's aware timestamps."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _day_start(moment: datetime) -> datetime:
    return datetime.combine(moment.astimezone(UTC).date(), datetime.min.time(), UTC)


@dataclass(slots=True)
class _Entry:
    """A world in the cache: the stored state it was built from, when that was last checked,
    and each account's balance before any transfer (what a payment checks against)."""

    world: PartnerWorld
    state: WorldState
    checked: float
    base_cents: dict[str, int]


class SandboxCore:
    """A simulated core bank offering every capability, deterministic per partner and seed."""

    name = "sandbox"
    in_process = True

    def __init__(
        self,
        clock: Callable[[str], datetime] | None = None,
        *,
        store: SandboxStore | None = None,
        max_worlds: int = MAX_WORLDS,
        refresh_after: float = 1.0,
    ) -> None:
        self._wall = clock or _utc_now
        self.store: SandboxStore = store or MemorySandboxStore()
        self.max_worlds = max_worlds
        self.refresh_after = refresh_after
        self._worlds: OrderedDict[str, _Entry] = OrderedDict()
        self._clocks: dict[str, tuple[int, float]] = {}  # partner -> (offset, when read)

    def capabilities(self) -> frozenset[Capability]:
        """What the sandbox bank simulates."""
        return CAPABILITIES

    # The partner's virtual clock

    def now(self, partner_id: str) -> datetime:
        """The partner's virtual time, as this replica last read it (at most `refresh_after`
        seconds ago while the partner is active)."""
        offset, _ = self._clocks.get(partner_id, (0, 0.0))
        return self._wall(partner_id) + timedelta(seconds=offset)

    async def current_time(self, partner_id: str) -> datetime:
        """The partner's virtual time, its offset read from the store when this replica's is
        older than `refresh_after` seconds (the world itself is not rebuilt)."""
        offset, read_at = self._clocks.get(partner_id, (0, float("-inf")))
        if time.monotonic() - read_at >= self.refresh_after:
            if read_at > float("-inf"):
                self._clocks[partner_id] = (offset, time.monotonic())  # one reader at a time
            state = await self.store.state(partner_id)
            self._clocks[partner_id] = (state.clock_offset if state else 0, time.monotonic())
        return self.now(partner_id)

    async def advance_clock(self, partner_id: str, by: timedelta) -> datetime:
        """Move the partner's clock forward by `by` and settle the transfers now due."""
        if by < timedelta(0):
            raise ValueError("the virtual clock only moves forward")
        self._clocks.pop(partner_id, None)
        async with self.store.world(partner_id, self._initial(partner_id)) as tx:
            offset = tx.state.clock_offset + int(by.total_seconds())
            await tx.update(seed=tx.state.seed, anchor=tx.state.anchor, clock_offset=offset)
            now = self._wall(partner_id) + timedelta(seconds=offset)
            for transfer in await tx.transfers():
                if _is_due(transfer, now):
                    assert transfer.settles_at is not None
                    await tx.settle(transfer.reference, transfer.settles_at)
        self._stale(partner_id)
        return await self.current_time(partner_id)

    # Worlds

    def world(self, partner_id: str) -> PartnerWorld:
        """The partner's world as this replica holds it (generated if it holds none yet;
        `load` reads the store first)."""
        entry = self._worlds.get(partner_id)
        if entry is None:
            entry = self._cache(partner_id, self._initial(partner_id), [])
        else:
            self._worlds.move_to_end(partner_id)
        return entry.world

    async def load(self, partner_id: str) -> PartnerWorld:
        """The partner's world, current with the store (checked at most every
        `refresh_after` seconds); a partner's first use stores its seed and history end."""
        entry = self._worlds.get(partner_id)
        if entry is not None and time.monotonic() - entry.checked < self.refresh_after:
            self._worlds.move_to_end(partner_id)
            return entry.world
        if entry is not None:
            # One caller reads the store; the others keep using the world meanwhile (a herd
            # of reads each second would queue every request in flight behind them).
            entry.checked = time.monotonic()
        state = await self.store.state(partner_id)
        if state is None:
            async with self.store.world(partner_id, self._initial(partner_id)):
                pass
            state = await self.store.state(partner_id)
            assert state is not None
        self._clocks[partner_id] = (state.clock_offset, time.monotonic())
        if entry is not None and entry.state == state:
            entry.checked = time.monotonic()
            self._worlds.move_to_end(partner_id)
            return entry.world
        loaded = await self.store.load(partner_id)
        assert loaded is not None
        return self._cache(partner_id, *loaded).world

    def discard(self, partner_id: str) -> None:
        """Forget the partner's world in this replica (a sign-up that did not commit)."""
        self._worlds.pop(partner_id, None)

    async def reset(self, partner_id: str, seed: int | None = None) -> int:
        """Regenerate the partner's data with `seed` (default: the next one), its history
        ending at the start of the partner's virtual day, and return the seed. Transfers of
        the earlier seed are left behind; the clock keeps its time."""
        async with self.store.world(partner_id, self._initial(partner_id)) as tx:
            new_seed = tx.state.seed + 1 if seed is None else seed
            now = self._wall(partner_id) + timedelta(seconds=tx.state.clock_offset)
            await tx.update(
                seed=new_seed, anchor=_day_start(now), clock_offset=tx.state.clock_offset
            )
        self._stale(partner_id)
        await self.load(partner_id)
        return new_seed

    async def list_customers(self, partner_id: str) -> list[Customer]:
        """The partner's test customers, for the sandbox's login and discovery pages."""
        return list((await self.load(partner_id)).customers.values())

    # Customers and accounts

    async def get_customer(self, ctx: CoreContext, customer_ref: str) -> Customer:
        """The customer with this core reference in the asking partner's world."""
        customer = (await self.load(ctx.partner_id)).customers.get(customer_ref)
        if customer is None:
            raise CoreNotFound("customer not found")
        return customer

    async def list_accounts(
        self,
        ctx: CoreContext,
        customer_ref: str,
        page: PageRequest,
        *,
        only: frozenset[str] | None = None,
    ) -> Page[Account]:
        """The customer's accounts, in the order they were opened in the sandbox."""
        customer = await self.get_customer(ctx, customer_ref)
        books = (await self.load(ctx.partner_id)).books.values()
        accounts = [
            b.account
            for b in books
            if b.account.customer_ref == customer.core_ref
            and (only is None or b.account.core_ref in only)
        ]
        return paginate(accounts, page)

    async def get_account(self, ctx: CoreContext, account_ref: str) -> Account:
        """The account with this core reference in the asking partner's world."""
        return (await self._book(ctx, account_ref)).account

    async def get_balances(self, ctx: CoreContext, account_ref: str) -> list[Balance]:
        """Booked and available balances: pending debits are not available, and a frozen
        account has nothing available."""
        book = await self._book(ctx, account_ref)
        booked = book.booked_balance
        is_frozen = book.account.status is not AccountStatus.ENABLED
        available = Decimal("0.00") if is_frozen else booked - book.pending_debits
        as_of = self.now(ctx.partner_id)
        return [
            Balance(kind, Money(abs(value)), "Credit" if value >= 0 else "Debit", as_of)
            for kind, value in ((BalanceType.BOOKED, booked), (BalanceType.AVAILABLE, available))
        ]

    async def list_transactions(
        self, ctx: CoreContext, account_ref: str, window: TimeWindow, page: PageRequest
    ) -> Page[Transaction]:
        """The account's transactions in `[window.start, window.end)`, newest first."""
        transactions = (await self._book(ctx, account_ref)).transactions
        if window.start is not None:
            start = _as_utc(window.start)
            transactions = [t for t in transactions if t.booked_at >= start]
        if window.end is not None:
            end = _as_utc(window.end)
            transactions = [t for t in transactions if t.booked_at < end]
        return paginate(transactions, page)

    # Payments

    async def initiate_payment(self, ctx: CoreContext, order: PaymentOrder) -> CorePayment:
        """Debit the customer's account for the order, once per reference (see
        `sandbox.magic` for the amounts that simulate refusals and failures)."""
        outcome = magic(order.amount.cents)
        if outcome is Magic.CORE_UNAVAILABLE:
            raise CoreUnavailable("the sandbox bank is unavailable (magic value .54)", 5)
        partner_id = ctx.partner_id
        is_new = False
        async with self.store.world(partner_id, self._initial(partner_id)) as tx:
            before = tx.state
            transfer = await tx.find(order.reference)
            if transfer is None:
                held = await tx.transfers(order.debtor_account_ref)
                transfer = await self._debit(partner_id, before, held, order)
                await tx.add(transfer)
                is_new = True
        if is_new:
            self._posted(partner_id, before, tx.state, transfer)
        if is_new and outcome is Magic.CORE_TIMEOUT:
            raise CoreTimeout("the sandbox bank did not answer in time (magic value .53)")
        return _core_payment(partner_id, transfer)

    async def find_payment(self, ctx: CoreContext, reference: str) -> CorePayment | None:
        """The order with this reference, settled first if the partner's clock says so."""
        partner_id = ctx.partner_id
        async with self.store.world(partner_id, self._initial(partner_id)) as tx:
            transfer = await tx.find(reference)
            if transfer is None:
                return None
            now = self._wall(partner_id) + timedelta(seconds=tx.state.clock_offset)
            if _is_due(transfer, now):
                assert transfer.settles_at is not None
                await tx.settle(reference, transfer.settles_at)
                transfer = dataclasses.replace(
                    transfer, status="Booked", booked_at=transfer.settles_at
                )
                self._stale(partner_id)
        return _core_payment(partner_id, transfer)

    async def _debit(
        self, partner_id: str, state: WorldState, transfers: list[Transfer], order: PaymentOrder
    ) -> Transfer:
        """The debit for `order` given the account's `transfers` so far, or the refusal the
        account's state calls for."""
        entry = self._worlds.get(partner_id)
        if entry is not None and (entry.state.seed, entry.state.anchor) == (
            state.seed,
            state.anchor,
        ):
            world, base_cents = entry.world, entry.base_cents
        else:  # generated for this check only: the cache holds complete worlds alone
            world = generate_world(partner_id, state.seed, state.anchor)
            base_cents = {ref: _cents(book.booked_balance) for ref, book in world.books.items()}
        book = world.books.get(order.debtor_account_ref)
        if book is None:
            raise CoreNotFound("account not found")
        outcome = magic(order.amount.cents)
        if outcome is Magic.ACCOUNT_FROZEN or book.account.status is not AccountStatus.ENABLED:
            raise CoreRejected("account-frozen", "the debtor account is frozen")
        available = base_cents[order.debtor_account_ref] + sum(
            t.signed_cents() for t in transfers if t.status == "Booked" or t.credit_debit == "Debit"
        )
        if outcome is Magic.INSUFFICIENT_FUNDS or order.amount.cents > available:
            raise CoreRejected("insufficient-funds", "the debtor account lacks the funds")
        now = self._wall(partner_id) + timedelta(seconds=state.clock_offset)
        is_pending = outcome is Magic.PENDING
        return Transfer(
            reference=order.reference,
            account_ref=order.debtor_account_ref,
            amount_cents=order.amount.cents,
            currency=order.amount.currency,
            credit_debit="Debit",
            counterparty=order.creditor_name,
            description=order.remittance,
            status="Pending" if is_pending else "Booked",
            created_at=now,
            settles_at=now + PENDING_FOR if is_pending else None,
            booked_at=None if is_pending else now,
        )

    # Products

    async def list_deposit_products(
        self, ctx: CoreContext, page: PageRequest
    ) -> Page[DepositProduct]:
        """The term deposits on offer; the same for every partner."""
        return paginate(DEPOSIT_PRODUCTS, page)

    async def list_loan_products(self, ctx: CoreContext, page: PageRequest) -> Page[LoanProduct]:
        """The loans on offer; the same for every partner."""
        return paginate(LOAN_PRODUCTS, page)

    async def list_wealth_products(
        self, ctx: CoreContext, page: PageRequest
    ) -> Page[WealthProduct]:
        """The wealth products on offer, one per risk level R1..R5."""
        return paginate(WEALTH_PRODUCTS, page)

    async def health(self) -> CoreHealth:
        """Always up: the sandbox lives in the gateway's own process."""
        return CoreHealth(True, "in-process sandbox bank")

    async def aclose(self) -> None:
        """Nothing to release: the worlds live in memory and the store."""

    # The cache

    def _initial(self, partner_id: str) -> WorldState:
        """A new partner's world: seed 0, history ending at the start of today (UTC)."""
        return WorldState(0, _day_start(self._wall(partner_id)), 0, 0)

    def _posted(
        self, partner_id: str, before: WorldState, after: WorldState, transfer: Transfer
    ) -> None:
        """Apply a committed transfer to the cached world when nothing else changed it
        since (the version moved by exactly this one change); else read it again."""
        entry = self._worlds.get(partner_id)
        if entry is None or entry.state != before or after.version != before.version + 1:
            self._stale(partner_id)
            return
        book = entry.world.books.get(transfer.account_ref)
        if book is not None:
            book.post(_transaction(partner_id, transfer))
        entry.state = after

    def _stale(self, partner_id: str) -> None:
        """Make the next use of the partner's world read the store again."""
        entry = self._worlds.get(partner_id)
        if entry is not None:
            entry.checked = float("-inf")

    def _cache(self, partner_id: str, state: WorldState, transfers: list[Transfer]) -> _Entry:
        world = generate_world(partner_id, state.seed, state.anchor)
        base = {ref: _cents(book.booked_balance) for ref, book in world.books.items()}
        for transfer in sorted(transfers, key=lambda t: t.booked_at or t.created_at):
            book = world.books.get(transfer.account_ref)
            if book is not None:
                book.post(_transaction(partner_id, transfer))
        entry = _Entry(world, state, time.monotonic(), base)
        self._worlds[partner_id] = entry
        self._worlds.move_to_end(partner_id)
        while len(self._worlds) > self.max_worlds:
            self._worlds.popitem(last=False)
        return entry

    async def _book(self, ctx: CoreContext, account_ref: str) -> AccountBook:
        book = (await self.load(ctx.partner_id)).books.get(account_ref)
        if book is None:
            raise CoreNotFound("account not found")
        return book


def _cents(value: Decimal) -> int:
    return int(value * 100)


def _is_due(transfer: Transfer, now: datetime) -> bool:
    return (
        transfer.status == "Pending"
        and transfer.settles_at is not None
        and transfer.settles_at <= now
    )


def _transaction(partner_id: str, transfer: Transfer) -> Transaction:
    return Transaction(
        core_ref=f"{partner_id}/xfer/{transfer.reference}",
        account_ref=transfer.account_ref,
        amount=Money.of_cents(transfer.amount_cents, transfer.currency),
        credit_debit=transfer.credit_debit,
        status=transfer.status,
        booked_at=transfer.booked_at or transfer.created_at,
        description=transfer.description,
        counterparty=transfer.counterparty,
    )


def _core_payment(partner_id: str, transfer: Transfer) -> CorePayment:
    is_booked = transfer.status == "Booked"
    return CorePayment(
        reference=transfer.reference,
        core_ref=f"{partner_id}/xfer/{transfer.reference}",
        status=PaymentStatus.COMPLETED if is_booked else PaymentStatus.PENDING,
        updated_at=(transfer.booked_at if is_booked else None) or transfer.created_at,
    )
