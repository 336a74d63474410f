"""What partners send to pay, and what they see of a payment."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field, with_config
from pydantic.config import JsonDict
from typing_extensions import TypedDict

from gateway.consents.schemas import ConsentIdPattern, Creditor, CreditorOut
from gateway.http.schemas import Money, MoneyIn, Schema, closed, money
from gateway.payments.models import Payment

PaymentIdPattern = r"^pay_[a-z2-7]{1,64}$"
AccountIdPattern = r"^acc_[a-z2-7]{1,64}$"
BillIdPattern = r"^bill_[a-z2-7]{1,64}$"


class PaymentRequest(Schema):
    """A payment under a payment consent: the terms must be exactly the consent's."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "consent_id": "cns_tq3vqz6k2n7w4d5fxyabc2e",
                    "debtor_account_id": "acc_6n4xq2mjv7k3d5wzr2hbsc3e7fga",
                    "amount": {"value": "3800.00", "currency": "CNY"},
                    "creditor": {"account_number": "6217001234567890123", "name": "阳光小学"},
                    "reference": "2026 秋季学费 张小明",
                    "bill_id": "bill_k3v7q2mz4n6w8d2f5h7j3k4l",
                }
            ]
        },
    )

    consent_id: str = Field(pattern=ConsentIdPattern)
    debtor_account_id: str = Field(
        pattern=AccountIdPattern, description="The account the customer chose to pay from."
    )
    amount: MoneyIn
    creditor: Creditor
    reference: str = Field(min_length=1, max_length=140)
    bill_id: str | None = Field(
        default=None,
        pattern=BillIdPattern,
        description="A bill of yours this payment settles (its amount must be the bill's).",
    )


_EXAMPLE: JsonDict = {
    "payment_id": "pay_m3k7q2vz4n6w8d2f5h7j3k4l",
    "consent_id": "cns_tq3vqz6k2n7w4d5fxyabc2e",
    "status": "Completed",
    "reason": None,
    "debtor_account_id": "acc_6n4xq2mjv7k3d5wzr2hbsc3e7fga",
    "amount": {"value": "3800.00", "currency": "CNY"},
    "creditor": {"account_number": "6217001234567890123", "name": "阳光小学"},
    "reference": "2026 秋季学费 张小明",
    "bill_id": "bill_k3v7q2mz4n6w8d2f5h7j3k4l",
    "created_at": "2026-11-28T02:00:00Z",
    "status_updated_at": "2026-11-28T02:00:00Z",
    "settled_at": "2026-11-28T02:00:00Z",
}


@with_config(closed(_EXAMPLE))
class PaymentOut(TypedDict):
    """A payment and its status: `Pending → Completed | Rejected`."""

    payment_id: Annotated[str, Field(pattern=PaymentIdPattern)]
    consent_id: str
    status: Annotated[str, Field(pattern=r"^(Pending|Completed|Rejected)$")]
    reason: Annotated[
        str | None,
        Field(description="Why it was rejected: a problem code, such as account-frozen."),
    ]
    debtor_account_id: str
    amount: Money
    creditor: CreditorOut
    reference: str
    bill_id: str | None
    created_at: datetime
    status_updated_at: datetime
    settled_at: Annotated[datetime | None, Field(description="When the money moved.")]


def payment_out(payment: Payment) -> PaymentOut:
    """A payment as partners see it (never the core's references)."""
    status = payment.status.value if payment.status.value != "Initiating" else "Pending"
    return {
        "payment_id": payment.id,
        "consent_id": payment.consent_id,
        "status": status,
        "reason": payment.reason,
        "debtor_account_id": payment.debtor_account_id,
        "amount": money(payment.amount),
        "creditor": {
            "account_number": payment.creditor_account_number,
            "name": payment.creditor_name,
        },
        "reference": payment.reference,
        "bill_id": payment.bill_id,
        "created_at": payment.created_at,
        "status_updated_at": payment.status_updated_at,
        "settled_at": payment.settled_at,
    }
