"""What partners send to ask for a consent, and what they see of it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field, model_validator, with_config
from typing_extensions import TypedDict

from gateway.clock import utcnow
from gateway.consents.models import MAX_LIFETIME, Consent
from gateway.http.schemas import Money, MoneyIn, Schema, closed
from gateway.http.validation import InvalidValue
from policies.messages import Text
from policies.vocabulary import PERMISSIONS, ConsentStatus, ConsentType

ConsentIdPattern = r"^cns_[a-z2-7]{1,64}$"
PERMISSIONS_OF_OTHER_TYPE = Text(
    "Permissions {unknown} are not valid for a {type} consent; valid ones are: {allowed}.",
    "{type} 类型的授权不能包含权限 {unknown}；可用的权限为：{allowed}。",
)
PAYMENT_TERMS = Text(
    "'payment' is required for payment consents, and only for them.",
    "付款类授权必须提供 payment，其他类型的授权不能提供。",
)
EXPIRY = Text(
    "expires_at must be an RFC 3339 time with a time zone, in the future and within one year.",
    "expires_at 必须是带时区的 RFC 3339 时间，晚于当前时间且不超过一年。",
)


class Creditor(Schema):
    """Who a payment goes to."""

    account_number: str = Field(pattern=r"^\d{8,32}$", examples=["6217001234567890123"])
    name: str = Field(min_length=1, max_length=140, examples=["阳光小学"])


class PaymentTerms(Schema):
    """The one payment a payment consent allows: amount, creditor and reference."""

    amount: MoneyIn
    creditor: Creditor
    reference: str = Field(min_length=1, max_length=140, examples=["2026 秋季学费 张小明"])


class ConsentRequest(Schema):
    """What the partner asks the customer to allow."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"type": "account_access", "permissions": ["ReadAccountsBasic", "ReadBalances"]}
            ]
        },
    )

    type: ConsentType
    permissions: list[str] = Field(
        min_length=1,
        max_length=10,
        description="Permissions valid for the type: account_access: ReadAccountsBasic, "
        "ReadAccountsDetail, ReadBalances, ReadTransactions, ReadParty, ReadPartyDetail; "
        "payment: InitiatePayments; deposit: ReadDeposits, OpenDeposits; loan: ReadLoans, "
        "ApplyLoans; wealth: ReadWealth, TradeWealth.",
    )
    expires_at: datetime | None = Field(
        default=None, description="RFC 3339 with offset; at most a year ahead (default 90 days)."
    )
    payment: PaymentTerms | None = Field(
        default=None, description="Required for payment consents, and only for them."
    )

    @model_validator(mode="after")
    def _coherent(self) -> ConsentRequest:
        allowed = PERMISSIONS[self.type]
        unknown = [p for p in self.permissions if p not in allowed]
        if unknown:
            raise InvalidValue(
                PERMISSIONS_OF_OTHER_TYPE.format(
                    unknown=", ".join(unknown), type=self.type.value, allowed=", ".join(allowed)
                )
            )
        if (self.type is ConsentType.PAYMENT) != (self.payment is not None):
            raise InvalidValue(PAYMENT_TERMS)
        if self.expires_at is not None:
            now = utcnow()
            if self.expires_at.tzinfo is None or not now < self.expires_at <= now + MAX_LIFETIME:
                raise InvalidValue(EXPIRY)
        return self


@with_config(closed({"account_number": "6217001234567890123", "name": "阳光小学"}))
class CreditorOut(TypedDict):
    account_number: str
    name: str


@with_config(
    closed(
        {
            "amount": {"value": "3800.00", "currency": "CNY"},
            "creditor": {"account_number": "6217001234567890123", "name": "阳光小学"},
            "reference": "2026 秋季学费 张小明",
        }
    )
)
class PaymentTermsOut(TypedDict):
    """The one payment a payment consent allows."""

    amount: Money
    creditor: CreditorOut
    reference: str


@with_config(
    closed(
        {
            "consent_id": "cns_tq3vqz6k2n7w4d5fxyabc2e",
            "type": "account_access",
            "status": "Authorised",
            "permissions": ["ReadAccountsBasic", "ReadBalances"],
            "expires_at": "2027-02-26T02:00:00Z",
            "created_at": "2026-11-28T02:00:00Z",
            "status_updated_at": "2026-11-28T02:01:10Z",
            "payment": None,
            "customer_id": "psu_x5k2m7qz3v4n6w8d2f5h7j3k4l",
            "account_ids": ["acc_6n4xq2mjv7k3d5wzr2hbsc3e7fga"],
        }
    )
)
class ConsentOut(TypedDict):
    """A consent and its status; once authorised, the customer and the accounts chosen."""

    consent_id: Annotated[str, Field(pattern=ConsentIdPattern)]
    type: ConsentType
    status: ConsentStatus
    permissions: list[str]
    expires_at: datetime | None
    created_at: datetime
    status_updated_at: datetime
    payment: PaymentTermsOut | None
    customer_id: Annotated[
        str | None,
        Field(description="The customer's pairwise id for this partner, once authorised."),
    ]
    account_ids: Annotated[
        list[str] | None, Field(description="The accounts the customer selected, once authorised.")
    ]


def consent_out(consent: Consent) -> ConsentOut:
    """A consent as partners see it (never the core's customer reference)."""
    payment = consent.payment
    return {
        "consent_id": consent.id,
        "type": consent.type,
        "status": consent.status,
        "permissions": list(consent.permissions),
        "expires_at": consent.expires_at,
        "created_at": consent.created_at,
        "status_updated_at": consent.updated_at,
        "payment": (
            {
                "amount": payment["amount"],
                "creditor": payment["creditor"],
                "reference": payment["reference"],
            }
            if payment
            else None
        ),
        "customer_id": consent.psu_id,
        "account_ids": sorted(consent.accounts or {}) if consent.psu_id is not None else None,
    }
