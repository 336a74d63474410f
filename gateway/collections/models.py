"""The bill as the gateway keeps it, its vocabulary, and the pay code a payer keys in."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from adapters.contract import Money

PAY_CODE_DIGITS = 12


class BillStatus(StrEnum):
    """`Open → Paid | Cancelled | Expired`; the three ends are final."""

    OPEN = "Open"
    PAID = "Paid"
    CANCELLED = "Cancelled"
    EXPIRED = "Expired"


class BillCategory(StrEnum):
    """What a bill collects for (the scene partner's sector)."""

    TUITION = "tuition"
    MEDICAL = "medical"
    TRANSPORT = "transport"
    UTILITY = "utility"
    GOVERNMENT_FEE = "government_fee"


class SettlementChannel(StrEnum):
    """How a bill's money arrived: a customer's payment through the API, or a payer at a
    bank channel (counter, mobile banking, ATM)."""

    CUSTOMER_PAYMENT = "customer_payment"
    BANK_CHANNEL = "bank_channel"


@dataclass(frozen=True, slots=True)
class Bill:
    """One bill of one partner.

    A bill is *held* while a payment of it is pending: a customer payment (`payment_id`)
    or a bank-channel payment that settles at `settles_at`. A held bill is neither payable
    by another payment, cancellable nor expired until the payment is released or settled.
    """

    id: str
    partner_id: str
    category: BillCategory
    payer_reference: str
    payer_name: str
    description: str
    amount: Money
    due_date: date
    pay_code: str
    status: BillStatus
    created_at: datetime
    status_updated_at: datetime
    channel: SettlementChannel | None = None
    payment_id: str | None = None
    settles_at: datetime | None = None
    settled_at: datetime | None = None

    @property
    def is_held(self) -> bool:
        return self.payment_id is not None or self.settles_at is not None

    @property
    def is_payable(self) -> bool:
        return self.status is BillStatus.OPEN and not self.is_held


def luhn_check_digit(digits: str) -> str:
    """The Luhn (ISO/IEC 7812-1) check digit to append to `digits`."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:  # doubled: the check digit will sit to its right
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return str((10 - total % 10) % 10)


def is_valid_pay_code(code: str) -> bool:
    """True for twelve digits whose last is their Luhn check digit."""
    return (
        len(code) == PAY_CODE_DIGITS
        and code.isascii()
        and code.isdigit()
        and luhn_check_digit(code[:-1]) == code[-1]
    )


def new_pay_code() -> str:
    """A random pay code: eleven digits (the first never 0) and a Luhn check digit, so a
    mistyped digit or a swap of two neighbours at a counter is caught before any lookup."""
    body = str(secrets.randbelow(9) + 1) + "".join(
        str(secrets.randbelow(10)) for _ in range(PAY_CODE_DIGITS - 2)
    )
    return body + luhn_check_digit(body)
