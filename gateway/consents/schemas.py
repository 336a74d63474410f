"""What partners send to ask for a consent, and what they see of it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, with_config
from typing_extensions import TypedDict

from gateway.clock import utcnow
from gateway.consents.models import MAX_LIFETIME, Consent
from gateway.http.schemas import Money, MoneyIn, Schema, closed
from gateway.http.validation import InvalidValue
from policies.messages import Text
from policies.vocabulary import PERMISSIONS, ConsentStatus, ConsentType

ConsentIdPattern = r"^cns_[a-z2-7]{1,64}$"


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
        default=None,
        validate_default=True,
        description="Required for payment consents, and only for them.",
    )

    @field_validator("permissions")
    @classmethod
    def _permissions_fit_the_type(cls, value: list[str], info: ValidationInfo) -> list[str]:
        consent_type = info.data.get("type")
        if consent_type is None:
            return value
        allowed = PERMISSIONS[consent_type]
        unknown = [p for p in value if p not in allowed]
        if unknown:
            raise InvalidValue(
                Text(
                    "{unknown} cannot be asked for in a {type} consent; allowed: {allowed}.",
                    "{type} 类型的授权不能申请 {unknown}；可申请：{allowed}。",
                ).format(
                    unknown=", ".join(unknown), type=consent_type.value, allowed=", ".join(allowed)
                )
            )
        return value

    @field_validator("expires_at")
    @classmethod
    def _expiry_within_a_year(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return value
        if value.tzinfo is None:
            raise InvalidValue(
                Text(
                    "expires_at must carry a time zone (RFC 3339), e.g. 2027-01-31T00:00:00+08:00.",
                    "expires_at 必须带时区（RFC 3339），如 2027-01-31T00:00:00+08:00。",
                )
            )
        now = utcnow()
        if not now < value <= now + MAX_LIFETIME:
            raise InvalidValue(
                Text(
                    "expires_at must be in the future and at most one year ahead.",
                    "expires_at 必须晚于当前时间，且不超过一年。",
                )
            )
        return value

    @field_validator("payment")
    @classmethod
    def _terms_for_payments_only(
        cls, value: PaymentTerms | None, info: ValidationInfo
    ) -> PaymentTerms | None:
        consent_type = info.data.get("type")
        if consent_type is ConsentType.PAYMENT and value is None:
            raise InvalidValue(
                Text(
                    "A payment consent needs the payment's terms: amount, creditor and reference.",
                    "付款授权须提供付款条款：金额、收款方和附言。",
                )
            )
        if consent_type not in (None, ConsentType.PAYMENT) and value is not None:
            raise InvalidValue(
                Text(
                    "Only payment consents carry payment terms: remove 'payment'.",
                    "只有付款授权才包含付款条款，请删除 payment。",
                )
            )
        return value


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
