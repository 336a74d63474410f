"""The contract between the gateway and a core banking system.

The gateway speaks only this canonical model. An adapter translates it to one core
(`SandboxCore`, `FineractCore`, ...). Identifiers in this module are the *core's own*
references (``core_ref``); the gateway never shows them to partners, it maps them to
pairwise, prefixed ids per partner.

Adapters raise only the canonical errors below, never HTTP errors:

    CoreError
     ├── CoreRejected(code)      the core refused the operation (insufficient-funds, ...)
     ├── CoreNotFound            the referenced resource does not exist in the core
     ├── CoreUnavailable         the core cannot be reached or is failing (503)
     ├── CoreTimeout             the core did not answer in time (504)
     └── CapabilityNotSupported  the adapter does not offer this capability (501)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable


class Capability(enum.StrEnum):
    """A capability a core may declare; `/v1/capabilities` lists the declared ones."""

    CUSTOMERS = "customers"
    ACCOUNTS = "accounts"
    BALANCES = "balances"
    TRANSACTIONS = "transactions"
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


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in a currency; `value` is a `Decimal` quantised to two places."""

    value: Decimal
    currency: str = "CNY"


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
    risk_tolerance: str  # C1..C5
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
    credit_debit: str  # Credit | Debit
    as_of: datetime


@dataclass(frozen=True, slots=True)
class Transaction:
    """A booked or pending transaction on an account."""

    core_ref: str
    account_ref: str
    amount: Money
    credit_debit: str
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
    risk_level: str
    expected_annual_return: Decimal
    min_amount: Money
    unit_nav: Decimal
    description: str = ""


@dataclass(frozen=True, slots=True)
class CoreContext:
    """Who is asking: the partner (the sandbox keys data by it) and the trace."""

    partner_id: str
    request_id: str = ""
    now: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class CoreBanking(Protocol):
    """The async interface every core adapter implements.

    Methods for capabilities an adapter does not declare raise `CapabilityNotSupported`.
    """

    name: str

    def capabilities(self) -> frozenset[Capability]:
        """The capabilities this core supports."""
        ...

    async def get_customer(self, ctx: CoreContext, customer_ref: str) -> Customer: ...

    async def list_accounts(self, ctx: CoreContext, customer_ref: str) -> list[Account]: ...

    async def get_account(self, ctx: CoreContext, account_ref: str) -> Account: ...

    async def get_balances(self, ctx: CoreContext, account_ref: str) -> list[Balance]: ...

    async def list_transactions(
        self,
        ctx: CoreContext,
        account_ref: str,
        from_time: datetime | None = None,
        to_time: datetime | None = None,
    ) -> list[Transaction]: ...

    async def list_deposit_products(self, ctx: CoreContext) -> list[DepositProduct]: ...

    async def list_loan_products(self, ctx: CoreContext) -> list[LoanProduct]: ...

    async def list_wealth_products(self, ctx: CoreContext) -> list[WealthProduct]: ...

    async def health(self) -> bool:
        """True when the core answers; used by `/readyz`."""
        ...
