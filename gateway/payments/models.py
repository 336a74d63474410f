"""The payment as the gateway keeps it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from adapters.contract import Money


class PaymentState(enum.StrEnum):
    """`Initiating` (internal: the core's answer is awaited or was lost), then what partners
    see: `Pending → Completed | Rejected`, or `Completed`/`Rejected` at once."""

    INITIATING = "Initiating"
    PENDING = "Pending"
    COMPLETED = "Completed"
    REJECTED = "Rejected"

    @property
    def is_final(self) -> bool:
        return self in (PaymentState.COMPLETED, PaymentState.REJECTED)


@dataclass(frozen=True, slots=True)
class Payment:
    id: str
    partner_id: str
    client_id: str
    consent_id: str
    customer_ref: str
    psu_id: str
    debtor_account_id: str
    debtor_account_ref: str
    amount: Money
    creditor_account_number: str
    creditor_name: str
    reference: str
    bill_id: str | None
    status: PaymentState
    reason: str | None
    idempotency_key: str
    core_ref: str | None
    created_at: datetime
    status_updated_at: datetime
    settled_at: datetime | None

    def same_terms(self, other: Payment) -> bool:
        """True when `other` asks for exactly this payment (a retry of it)."""
        return (
            self.consent_id,
            self.debtor_account_id,
            self.amount,
            self.creditor_account_number,
            self.creditor_name,
            self.reference,
            self.bill_id,
        ) == (
            other.consent_id,
            other.debtor_account_id,
            other.amount,
            other.creditor_account_number,
            other.creditor_name,
            other.reference,
            other.bill_id,
        )
