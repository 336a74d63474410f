"""Tests for the sandbox's simulated core bank and its synthetic data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.contract import (
    PORTS,
    Account,
    AccountStatus,
    BalanceType,
    CoreContext,
    CoreHealth,
    CoreNotFound,
    PageRequest,
    TimeWindow,
    Transaction,
)
from adapters.resilience import CoreClient
from sandbox.core import CAPABILITIES, SandboxCore
from sandbox.data import (
    BANK_BIN,
    HISTORY_DAYS,
    generate_world,
    id_check_digit,
    is_valid_id_number,
    luhn_check_digit,
    signed,
)

NOW = datetime(2025, 5, 11, 3, 30, tzinfo=UTC)
HISTORY_END = datetime(2025, 5, 11, tzinfo=UTC)
PARTNER = "ptn_alpha"
OTHER = "ptn_beta"


@pytest.fixture
def core() -> SandboxCore:
    return SandboxCore(clock=lambda _partner_id: NOW)


@pytest.fixture
def ctx() -> CoreContext:
    return CoreContext(partner_id=PARTNER)


def ref(partner_id: str, username: str) -> str:
    return f"{partner_id}/cust/{username}"


ALL = PageRequest(size=1000)


async def accounts_of(core: SandboxCore, ctx: CoreContext, customer_ref: str) -> list[Account]:
    return list((await core.list_accounts(ctx, customer_ref, ALL)).items)


async def transactions_of(
    core: SandboxCore,
    ctx: CoreContext,
    account_ref: str,
    from_time: datetime | None = None,
    to_time: datetime | None = None,
) -> list[Transaction]:
    window = TimeWindow(from_time, to_time)
    return list((await core.list_transactions(ctx, account_ref, window, ALL)).items)


async def snapshot(core: SandboxCore, partner_id: str) -> list[object]:
    """Everything a partner can read, in order, for equality checks."""
    ctx = CoreContext(partner_id=partner_id)
    customers = await core.list_customers(partner_id)
    out: list[object] = list(customers)
    for customer in customers:
        for account in await accounts_of(core, ctx, customer.core_ref):
            out.append(account)
            balances = await core.get_balances(ctx, account.core_ref)
            out.append([(b.type, b.amount, b.credit_debit) for b in balances])
            out.append(await transactions_of(core, ctx, account.core_ref))
    return out


class TestSandboxCore:
    async def test_implements_the_contract(self, core: SandboxCore) -> None:
        """SandboxCore implements the protocol of every capability it declares."""
        assert core.name == "sandbox"
        assert core.capabilities() == CAPABILITIES
        assert all(isinstance(core, PORTS[c]) for c in CAPABILITIES)
        assert (await core.health()).is_up
        assert CoreClient(core).capabilities() == CAPABILITIES

    async def test_same_partner_same_data(self) -> None:
        """Two instances generate identical data for the same partner and day."""
        first = SandboxCore(clock=lambda _: NOW)
        second = SandboxCore(clock=lambda _: NOW + timedelta(hours=5))
        assert await snapshot(first, PARTNER) == await snapshot(second, PARTNER)

    async def test_partners_get_different_data(self, core: SandboxCore) -> None:
        """Different partners get different account numbers, and refs in their own namespace."""
        numbers: dict[str, set[str]] = {}
        for partner_id in (PARTNER, OTHER):
            books = core.world(partner_id).books
            assert all(r.startswith(f"{partner_id}/acct/") for r in books)
            numbers[partner_id] = {b.account.account_number for b in books.values()}
        assert numbers[PARTNER].isdisjoint(numbers[OTHER])

    async def test_three_customers(self, core: SandboxCore, ctx: CoreContext) -> None:
        """Each partner has zhang.wei (C3), li.na (C1) and wang.fang, all KYC-verified."""
        customers = {c.username: c for c in await core.list_customers(PARTNER)}
        assert set(customers) == {"zhang.wei", "li.na", "wang.fang"}
        zhang = await core.get_customer(ctx, ref(PARTNER, "zhang.wei"))
        assert (zhang.full_name, zhang.family_name, zhang.risk_tolerance) == ("张伟", "张", "C3")
        assert customers["li.na"].risk_tolerance == "C1"
        assert {c.kyc_status for c in customers.values()} == {"Verified"}

    async def test_zhang_wei_accounts(self, core: SandboxCore, ctx: CoreContext) -> None:
        """zhang.wei has an enabled current account with 10k-50k CNY and an enabled savings one."""
        accounts = await accounts_of(core, ctx, ref(PARTNER, "zhang.wei"))
        assert [a.account_subtype for a in accounts] == ["CurrentAccount", "Savings"]
        assert {a.status for a in accounts} == {AccountStatus.ENABLED}
        balances = await core.get_balances(ctx, accounts[0].core_ref)
        booked = next(b for b in balances if b.type is BalanceType.BOOKED)
        assert Decimal(10_000) <= booked.amount.value <= Decimal(50_000)

    @pytest.mark.parametrize("partner_id", [f"ptn_{n}" for n in range(8)])
    async def test_li_na_accounts(self, core: SandboxCore, partner_id: str) -> None:
        """li.na has one or two enabled accounts."""
        ctx = CoreContext(partner_id=partner_id)
        accounts = await accounts_of(core, ctx, ref(partner_id, "li.na"))
        assert 1 <= len(accounts) <= 2
        assert {a.status for a in accounts} == {AccountStatus.ENABLED}

    async def test_wang_fang_frozen(self, core: SandboxCore, ctx: CoreContext) -> None:
        """wang.fang's accounts are frozen: money is booked but nothing is available."""
        accounts = await accounts_of(core, ctx, ref(PARTNER, "wang.fang"))
        assert accounts
        assert {a.status for a in accounts} == {AccountStatus.FROZEN}
        balances = await core.get_balances(ctx, accounts[0].core_ref)
        by_type = {b.type: b.amount.value for b in balances}
        assert by_type[BalanceType.AVAILABLE] == Decimal("0.00")
        assert by_type[BalanceType.BOOKED] > 0

    async def test_balances_follow_transactions(self, core: SandboxCore, ctx: CoreContext) -> None:
        """The booked balance is the opening balance plus the transactions, never negative."""
        for account_ref, book in core.world(PARTNER).books.items():
            transactions = await transactions_of(core, ctx, account_ref)
            balances = await core.get_balances(ctx, account_ref)
            booked = next(b for b in balances if b.type is BalanceType.BOOKED)
            running = book.opening_balance
            assert running >= 0
            for txn in reversed(transactions):
                running += signed(txn)
                assert running >= 0
            assert booked.amount.value == running
            assert booked.credit_debit == "Credit"
            assert booked.as_of == NOW

    async def test_available_equals_booked_when_enabled(
        self, core: SandboxCore, ctx: CoreContext
    ) -> None:
        """An enabled account has its whole booked balance available."""
        accounts = await accounts_of(core, ctx, ref(PARTNER, "zhang.wei"))
        for account in accounts:
            values = {b.type: b.amount for b in await core.get_balances(ctx, account.core_ref)}
            assert values[BalanceType.AVAILABLE] == values[BalanceType.BOOKED]

    async def test_transaction_history(self, core: SandboxCore, ctx: CoreContext) -> None:
        """Each account has 20-40 booked transactions in the last 90 days, newest first."""
        for account_ref in core.world(PARTNER).books:
            transactions = await transactions_of(core, ctx, account_ref)
            assert 20 <= len(transactions) <= 40
            times = [t.booked_at for t in transactions]
            assert times == sorted(times, reverse=True)
            assert HISTORY_END - timedelta(days=HISTORY_DAYS) <= times[-1]
            assert times[0] < HISTORY_END
            assert {t.account_ref for t in transactions} == {account_ref}
            assert all(t.amount.value.as_tuple().exponent == -2 for t in transactions)
            assert all(t.amount.value > 0 and t.counterparty for t in transactions)

    async def test_transaction_filter(self, core: SandboxCore, ctx: CoreContext) -> None:
        """from_time is inclusive and to_time exclusive."""
        account_ref = next(iter(core.world(PARTNER).books))
        everything = await transactions_of(core, ctx, account_ref)
        pivot = everything[len(everything) // 2].booked_at
        after = await transactions_of(core, ctx, account_ref, from_time=pivot)
        before = await transactions_of(core, ctx, account_ref, to_time=pivot)
        assert after[-1].booked_at == pivot
        assert all(t.booked_at < pivot for t in before)
        assert len(after) + len(before) == len(everything)
        window = await transactions_of(core, ctx, account_ref, pivot, pivot)
        assert window == []

    async def test_naive_filter_times_are_utc(self, core: SandboxCore, ctx: CoreContext) -> None:
        """A naive from_time is read as UTC rather than failing to compare."""
        account_ref = next(iter(core.world(PARTNER).books))
        pivot = (await transactions_of(core, ctx, account_ref))[3].booked_at
        naive = await transactions_of(core, ctx, account_ref, pivot.replace(tzinfo=None))
        assert naive == await transactions_of(core, ctx, account_ref, pivot)

    async def test_other_partners_refs_are_not_found(self, core: SandboxCore) -> None:
        """A partner asking for another partner's customer or account gets CoreNotFound."""
        theirs = CoreContext(partner_id=OTHER)
        account_ref = next(iter(core.world(PARTNER).books))
        customer = ref(PARTNER, "zhang.wei")
        with pytest.raises(CoreNotFound):
            await core.get_customer(theirs, customer)
        with pytest.raises(CoreNotFound):
            await accounts_of(core, theirs, customer)
        with pytest.raises(CoreNotFound):
            await core.get_account(theirs, account_ref)
        with pytest.raises(CoreNotFound):
            await core.get_balances(theirs, account_ref)
        with pytest.raises(CoreNotFound):
            await transactions_of(core, theirs, account_ref)

    async def test_unknown_ref_not_found(self, core: SandboxCore, ctx: CoreContext) -> None:
        """An account reference that was never issued is CoreNotFound."""
        with pytest.raises(CoreNotFound):
            await core.get_account(ctx, f"{PARTNER}/acct/0.999")

    async def test_reset_regenerates(self, core: SandboxCore, ctx: CoreContext) -> None:
        """reset draws new accounts, retires the old refs and keeps customer refs stable."""
        before = core.world(PARTNER)
        old_refs = set(before.books)
        old_numbers = {b.account.account_number for b in before.books.values()}
        assert await core.reset(PARTNER) == 1
        after = core.world(PARTNER)
        assert old_refs.isdisjoint(after.books)
        assert old_numbers.isdisjoint(b.account.account_number for b in after.books.values())
        assert set(after.customers) == set(before.customers)
        with pytest.raises(CoreNotFound):
            await core.get_account(ctx, next(iter(old_refs)))

    async def test_reset_to_a_stored_seed_restores(self, core: SandboxCore) -> None:
        """Resetting to a known seed reproduces that seed's data in a fresh instance."""
        seed = await core.reset(PARTNER)
        restarted = SandboxCore(clock=lambda _: NOW)
        await restarted.reset(PARTNER, seed=seed)
        assert await snapshot(restarted, PARTNER) == await snapshot(core, PARTNER)

    async def test_reset_leaves_other_partners_alone(self, core: SandboxCore) -> None:
        """Resetting one partner does not change another partner's data."""
        others = await snapshot(core, OTHER)
        await core.reset(PARTNER)
        assert await snapshot(core, OTHER) == others

    async def test_identity_formats(self, core: SandboxCore) -> None:
        """Mobiles are 11 digits from 13x/15x/18x; account numbers are 19 Luhn-valid digits."""
        for customer in await core.list_customers(PARTNER):
            assert len(customer.mobile) == 11
            assert customer.mobile.isdigit()
            assert customer.mobile[:2] in {"13", "15", "18"}
        for book in core.world(PARTNER).books.values():
            number = book.account.account_number
            assert len(number) == 19
            assert number.startswith(BANK_BIN)
            assert luhn_check_digit(number[:-1]) == number[-1]

    def test_id_check_digit_matches_the_standard_example(self) -> None:
        """The check character of the GB 11643 example number 11010519491231002X is X."""
        assert id_check_digit("11010519491231002") == "X"
        assert is_valid_id_number("11010519491231002X")
        assert not is_valid_id_number("110105194912310021")

    @settings(max_examples=40, deadline=None)
    @given(partner_id=st.text(min_size=1, max_size=30), seed=st.integers(0, 1_000))
    def test_id_numbers_are_valid(self, partner_id: str, seed: int) -> None:
        """Every generated ID number has a valid check digit, birth date and sex digit."""
        world = generate_world(partner_id, seed, NOW)
        for customer in world.customers.values():
            number = customer.id_number
            assert is_valid_id_number(number)
            born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
            assert born < NOW.date()
            assert (int(number[16]) % 2 == 1) == (customer.username == "zhang.wei")

    async def test_products(self, core: SandboxCore, ctx: CoreContext) -> None:
        """Products are the same for all partners: wealth covers R1..R5, deposits 3-36 months."""
        wealth = (await core.list_wealth_products(ctx, ALL)).items
        assert [p.risk_level for p in wealth] == ["R1", "R2", "R3", "R4", "R5"]
        deposits = (await core.list_deposit_products(ctx, ALL)).items
        assert [p.term_months for p in deposits] == [3, 6, 12, 36]
        assert all(Decimal("1.05") <= p.annual_rate <= Decimal("2.35") for p in deposits)
        loans = (await core.list_loan_products(ctx, ALL)).items
        assert len(loans) == 3
        assert all(p.min_amount.value < p.max_amount.value for p in loans)
        other = CoreContext(partner_id=OTHER)
        assert (await core.list_wealth_products(other, ALL)).items == wealth

    async def test_pages(self, core: SandboxCore, ctx: CoreContext) -> None:
        """Lists page by the contract's cursor, and the pages add up to the whole list."""
        account_ref = (await accounts_of(core, ctx, ref(PARTNER, "zhang.wei")))[0].core_ref
        whole = await transactions_of(core, ctx, account_ref)
        seen: list[Transaction] = []
        page = PageRequest(size=7)
        while True:
            chunk = await core.list_transactions(ctx, account_ref, TimeWindow(), page)
            assert len(chunk.items) <= 7
            seen.extend(chunk.items)
            if chunk.next_cursor is None:
                break
            page = PageRequest(size=7, cursor=chunk.next_cursor)
        assert seen == whole
        assert len(whole) > 7
        assert isinstance(await core.health(), CoreHealth)


class TestWorldCache:
    async def test_worlds_kept_are_bounded(self) -> None:
        """However many partners sign up, at most `max_worlds` worlds stay in memory."""
        core = SandboxCore(clock=lambda _partner_id: NOW, max_worlds=3)
        for i in range(10):
            await core.list_customers(f"ptn_{i}")
        assert len(core._worlds) == 3
        assert list(core._worlds) == ["ptn_7", "ptn_8", "ptn_9"]

    async def test_recently_used_worlds_stay(self) -> None:
        """A world in use is kept; the least recently used one goes first."""
        core = SandboxCore(clock=lambda _partner_id: NOW, max_worlds=2)
        first = core.world(PARTNER)
        core.world(OTHER)
        assert core.world(PARTNER) is first
        core.world("ptn_gamma")
        assert core.world(PARTNER) is first
        assert OTHER not in core._worlds

    async def test_an_evicted_world_comes_back_the_same(self) -> None:
        """A world generated again after eviction equals the first (same seed, same day)."""
        core = SandboxCore(clock=lambda _partner_id: NOW, max_worlds=1)
        before = await snapshot(core, PARTNER)
        core.world(OTHER)
        assert PARTNER not in core._worlds
        assert await snapshot(core, PARTNER) == before

    async def test_discard_forgets_the_world(self) -> None:
        """A partner whose sign-up did not commit leaves nothing behind in the cache."""
        core = SandboxCore(clock=lambda _partner_id: NOW)
        core.world(PARTNER)
        core.discard(PARTNER)
        assert PARTNER not in core._worlds
