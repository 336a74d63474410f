"""The contract between the gateway and a core banking system.

The gateway speaks only this canonical model. An adapter translates it to one core
(`SandboxCore`, `FineractCore`, ...). Identifiers in this module are the *core's own*
references (``core_ref``); the gateway never shows them to partners, it maps them to
pairwise, prefixed ids per partner.

An adapter is a `CoreAdapter` that declares its capabilities and implements one small
protocol per declared capability (`AccountsCore`, `CustomersCore`, ...); the gateway checks
that at start-up, lists the declared ones at `/v1/capabilities` and answers `501` for the
rest. Every call takes a `CoreContext`: who asks, by when it must be answered, the
idempotency key of a write and the trace to propagate. Lists are paged in the contract.

Adapters raise only the canonical errors below, never HTTP errors:

    CoreError
     ├── CoreRejected(code)      the core refused the operation (insufficient-funds, ...)
     ├── CoreNotFound            the referenced resource does not exist in the core
     ├── CoreUnavailable         the core cannot be reached or is failing (503)
     ├── CoreTimeout             the core did not answer in time (504)
     └── CapabilityNotSupported  the adapter does not offer this capability (501)
"""

from __future__ import annotations

import base64
import binascii
import enum
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Generic, Literal, NamedTuple, Protocol, TypeVar, runtime_checkable

from opentelemetry import propagate

T = TypeVar("T")
CreditDebit = Literal["Credit", "Debit"]
RiskLevel = Literal["R1", "R2", "R3", "R4", "R5"]  # of a wealth product
RiskTolerance = Literal["C1", "C2", "C3", "C4", "C5"]  # of a customer


class Capability(enum.StrEnum):
    """A capability a core may declare; `/v1/capabilities` lists the declared ones."""

    CUSTOMERS = "customers"
    ACCOUNTS = "accounts"
    PAYMENTS = "payments"
    COLLECTIONS = "collections"
    DEPOSITS = "deposits"
    LOANS = "loans"
    WEALTH = "wealth"


class CoreError(Exception):
    """Base class of every error an adapter may raise."""


class CoreRejected(CoreError):
    """The core refused the operation for a business reason named by `code`."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code


class CoreNotFound(CoreError):
    """The resource does not exist in the core."""


class CoreUnavailable(CoreError):
    """The core cannot be reached or answers with server errors."""

    def __init__(self, message: str = "core unavailable", retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CoreTimeout(CoreError):
    """The core did not answer within the call's deadline."""


class CapabilityNotSupported(CoreError):
    """The adapter does not implement this capability."""

    def __init__(self, capability: Capability) -> None:
        super().__init__(f"capability {capability} not supported")
        self.capability = capability


CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in a currency; `value` is a `Decimal` quantised to two places."""

    value: Decimal
    currency: str = "CNY"

    @property
    def cents(self) -> int:
        """The amount in cents, exactly (refuses a value with more than two places)."""
        cents = self.value * 100
        if cents != cents.to_integral_value():
            raise ValueError(f"{self.value} has more than two fraction digits")
        return int(cents)

    @classmethod
    def of_cents(cls, cents: int, currency: str = "CNY") -> Money:
        """The amount of `cents` cents: `Money.of_cents(12850).value == Decimal("128.50")`."""
        return cls((Decimal(cents) / 100).quantize(CENT), currency)


class AccountStatus(enum.StrEnum):
    ENABLED = "Enabled"
    FROZEN = "Frozen"
    CLOSED = "Closed"


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer of the bank as the core knows them."""

    core_ref: str
    username: str
    full_name: str
    family_name: str
    risk_tolerance: RiskTolerance
    kyc_status: str  # Verified | Pending | Failed
    id_number: str = ""
    mobile: str = ""


@dataclass(frozen=True, slots=True)
class Account:
    """A customer account (current, savings, card account)."""

    core_ref: str
    customer_ref: str
    account_number: str
    account_type: str  # Personal | Business
    account_subtype: str  # CurrentAccount | Savings | DebitCard
    nickname: str
    currency: str
    status: AccountStatus
    opened_on: date


class BalanceType(enum.StrEnum):
    AVAILABLE = "InterimAvailable"
    BOOKED = "InterimBooked"


@dataclass(frozen=True, slots=True)
class Balance:
    """One balance of an account at a point in time."""

    type: BalanceType
    amount: Money
    credit_debit: CreditDebit
    as_of: datetime


@dataclass(frozen=True, slots=True)
class Transaction:
    """A booked or pending transaction on an account."""

    core_ref: str
    account_ref: str
    amount: Money
    credit_debit: CreditDebit
    status: str  # Booked | Pending
    booked_at: datetime
    description: str
    counterparty: str = ""


@dataclass(frozen=True, slots=True)
class DepositProduct:
    """A term-deposit product the bank offers."""

    core_ref: str
    name: str
    term_months: int
    annual_rate: Decimal
    min_amount: Money
    currency: str = "CNY"
    description: str = ""


@dataclass(frozen=True, slots=True)
class LoanProduct:
    """A loan product the bank offers."""

    core_ref: str
    name: str
    min_amount: Money
    max_amount: Money
    min_term_months: int
    max_term_months: int
    annual_rate: Decimal
    description: str = ""


@dataclass(frozen=True, slots=True)
class WealthProduct:
    """A wealth-management product with its risk level R1..R5."""

    core_ref: str
    name: str
    risk_level: RiskLevel
    expected_annual_return: Decimal
    min_amount: Money
    unit_nav: Decimal
    description: str = ""


class PaymentStatus(enum.StrEnum):
    """A payment's state at the core: `Pending` until the money has moved."""

    PENDING = "Pending"
    COMPLETED = "Completed"
    REJECTED = "Rejected"


@dataclass(frozen=True, slots=True)
class PaymentOrder:
    """A credit transfer from a customer's account to a creditor.

    `reference` is the caller's unique reference of the order (the gateway's payment id):
    the core executes an order once per reference, and finds it again by it.
    """

    reference: str
    debtor_account_ref: str
    amount: Money
    creditor_account_number: str
    creditor_name: str
    remittance: str


@dataclass(frozen=True, slots=True)
class CorePayment:
    """A payment order as the core knows it; `reason` is a problem code when rejected."""

    reference: str
    core_ref: str
    status: PaymentStatus
    updated_at: datetime
    reason: str | None = None


class CoreContext(NamedTuple):
    """One call's circumstances: the asking partner (the sandbox keys data by it), the
    request it serves, its deadline (`time.monotonic()` seconds) and a write's idempotency key.

    A named tuple rather than a frozen dataclass: one is made for every core call, and a
    tuple is several times cheaper to build.
    """

    partner_id: str
    request_id: str = ""
    deadline: float | None = None
    idempotency_key: str | None = None

    @classmethod
    def within(
        cls,
        partner_id: str,
        seconds: float,
        *,
        request_id: str = "",
        idempotency_key: str | None = None,
    ) -> CoreContext:
        """A context whose deadline is `seconds` from now."""
        return cls(partner_id, request_id, time.monotonic() + seconds, idempotency_key)

    def remaining(self) -> float | None:
        """Seconds left before the deadline (never negative), or None without one."""
        if self.deadline is None:
            return None
        return max(self.deadline - time.monotonic(), 0.0)

    def trace_headers(self) -> dict[str, str]:
        """W3C trace-context headers for the current span, for a core reached over HTTP."""
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        return carrier


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Which page of a list: at most `size` items after the opaque `cursor`."""

    size: int = 50
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list and the cursor of the next (None on the last page)."""

    items: Sequence[T]
    next_cursor: str | None = None


class InvalidCursor(CoreError):
    """A cursor this adapter did not issue (the caller's mistake: `400`)."""


def paginate(items: Sequence[T], page: PageRequest) -> Page[T]:
    """Offset paging of an in-memory list behind an opaque cursor (for simple adapters)."""
    offset = 0
    if page.cursor:
        try:
            offset = int(base64.urlsafe_b64decode(page.cursor.encode() + b"==").decode())
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise InvalidCursor(page.cursor) from None
        if offset < 0:
            raise InvalidCursor(page.cursor)
    following = offset + page.size
    next_cursor = (
        base64.urlsafe_b64encode(str(following).encode()).decode().rstrip("=")
        if following < len(items)
        else None
    )
    return Page(list(items[offset:following]), next_cursor)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """`[start, end)`; either bound may be open."""

    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class CoreHealth:
    """What the core says of itself; `/readyz` reports it without depending on it."""

    is_up: bool
    detail: str = ""


class CoreAdapter(Protocol):
    """What every adapter is: a name, its capabilities, its health and its resources.

    `in_process` is true for an adapter whose calls never wait on I/O (the sandbox bank):
    it honours deadlines itself, so the guarded client arms no timer per call.
    """

    name: str
    in_process: bool

    def capabilities(self) -> frozenset[Capability]:
        """The capabilities this core supports; it implements each one's protocol."""
        ...

    async def health(self) -> CoreHealth: ...

    async def aclose(self) -> None:
        """Release connections and other resources (called at shutdown)."""
        ...


@runtime_checkable
class CustomersCore(Protocol):
    """Customers as the core knows them."""

    async def get_customer(self, ctx: CoreContext, customer_ref: str) -> Customer: ...


@runtime_checkable
class AccountsCore(Protocol):
    """Accounts, balances and transactions."""

    async def list_accounts(
        self,
        ctx: CoreContext,
        customer_ref: str,
        page: PageRequest,
        *,
        only: frozenset[str] | None = None,
    ) -> Page[Account]:
        """The customer's accounts in opening order (only those in `only`, when given)."""
        ...

    async def get_account(self, ctx: CoreContext, account_ref: str) -> Account: ...

    async def get_balances(self, ctx: CoreContext, account_ref: str) -> list[Balance]: ...

    async def list_transactions(
        self, ctx: CoreContext, account_ref: str, window: TimeWindow, page: PageRequest
    ) -> Page[Transaction]:
        """Booked and pending transactions in the window, newest first."""
        ...


@runtime_checkable
class PaymentsCore(Protocol):
    """Credit transfers from a customer's account.

    `initiate_payment` raises `CoreRejected("insufficient-funds" | "account-frozen")` for a
    refusal, and `CoreTimeout`/`CoreUnavailable` when the outcome is unknown: the caller then
    looks the order up with `find_payment` before it ever asks again, and asking again with
    the same reference never moves money twice.
    """

    async def initiate_payment(self, ctx: CoreContext, order: PaymentOrder) -> CorePayment: ...

    async def find_payment(self, ctx: CoreContext, reference: str) -> CorePayment | None:
        """The order with this reference, or None if the core never executed it."""
        ...


@runtime_checkable
class DepositsCore(Protocol):
    """Term deposits."""

    async def list_deposit_products(
        self, ctx: CoreContext, page: PageRequest
    ) -> Page[DepositProduct]: ...


@runtime_checkable
class LoansCore(Protocol):
    """Loans."""

    async def list_loan_products(
        self, ctx: CoreContext, page: PageRequest
    ) -> Page[LoanProduct]: ...


@runtime_checkable
class WealthCore(Protocol):
    """Wealth management."""

    async def list_wealth_products(
        self, ctx: CoreContext, page: PageRequest
    ) -> Page[WealthProduct]: ...


# The protocol each capability's adapter implements. Capabilities without one here are not
# yet offered by this gateway version; an adapter that declares them is refused at start-up.
PORTS: Mapping[Capability, type] = {
    Capability.CUSTOMERS: CustomersCore,
    Capability.ACCOUNTS: AccountsCore,
    Capability.PAYMENTS: PaymentsCore,
    Capability.DEPOSITS: DepositsCore,
    Capability.LOANS: LoansCore,
    Capability.WEALTH: WealthCore,
}
