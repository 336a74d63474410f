"""What partners see of accounts and balances."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, with_config
from typing_extensions import TypedDict

from gateway.http.schemas import Money, closed

AccountIdPattern = r"^acc_[a-z2-7]{1,64}$"
AccountId = Annotated[str, Field(pattern=AccountIdPattern)]


@with_config(
    closed(
        {
            "account_id": "acc_6n4xq2mjv7k3d5wzr2hbsc3e7fga",
            "account_type": "Personal",
            "account_subtype": "DebitCard",
            "nickname": "工资卡",
            "currency": "CNY",
            "status": "Enabled",
            "opened_on": "2019-03-14",
            "account_number": "622848******0931",
        }
    )
)
class AccountOut(TypedDict):
    """One consented account; the number is masked unless `ReadAccountsDetail` was granted."""

    account_id: AccountId
    account_type: Annotated[str, Field(examples=["Personal"])]
    account_subtype: Annotated[str, Field(examples=["DebitCard"])]
    nickname: str
    currency: str
    status: Literal["Enabled", "Frozen", "Closed"]
    opened_on: date
    account_number: Annotated[
        str,
        Field(
            description="Masked (first 6 and last 4 digits) unless ReadAccountsDetail was granted."
        ),
    ]


@with_config(
    closed(
        {
            "account_id": "acc_6n4xq2mjv7k3d5wzr2hbsc3e7fga",
            "type": "InterimAvailable",
            "amount": {"value": "5230.17", "currency": "CNY"},
            "credit_debit": "Credit",
            "as_of": "2026-11-28T02:00:00Z",
        }
    )
)
class BalanceOut(TypedDict):
    """One balance of an account at a point in time."""

    account_id: AccountId
    type: Literal["InterimAvailable", "InterimBooked"]
    amount: Money
    credit_debit: Literal["Credit", "Debit"]
    as_of: datetime


@with_config(
    closed(
        {
            "transaction_id": "txn_q4m7zk2xv3n5w6d8f2h4j7k3l5pa",
            "account_id": "acc_6n4xq2mjv7k3d5wzr2hbsc3e7fga",
            "amount": {"value": "38.50", "currency": "CNY"},
            "credit_debit": "Debit",
            "status": "Booked",
            "booked_at": "2026-11-27T04:12:09Z",
            "description": "POS消费",
            "counterparty": "永辉超市",
        }
    )
)
class TransactionOut(TypedDict):
    """One booked or pending transaction of a consented account."""

    transaction_id: Annotated[
        str,
        Field(
            pattern=r"^txn_[a-z2-7]{1,64}$",
            description="Stable for this partner; another partner sees another id.",
        ),
    ]
    account_id: AccountId
    amount: Money
    credit_debit: Literal["Credit", "Debit"]
    status: Literal["Booked", "Pending"]
    booked_at: datetime
    description: str
    counterparty: Annotated[str, Field(description="Who paid or was paid; may be empty.")]
