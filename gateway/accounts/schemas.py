"""What partners see of accounts and balances."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import ConfigDict, Field

from gateway.http.schemas import Money, Schema

AccountIdPattern = r"^acc_[a-z2-7]{1,64}$"


class AccountOut(Schema):
    """One consented account; the number is masked unless `ReadAccountsDetail` was granted."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
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
            ]
        },
    )

    account_id: str = Field(pattern=AccountIdPattern)
    account_type: str = Field(examples=["Personal"])
    account_subtype: str = Field(examples=["DebitCard"])
    nickname: str
    currency: str
    status: Literal["Enabled", "Frozen", "Closed"]
    opened_on: date
    account_number: str = Field(
        description="Masked (first 6 and last 4 digits) unless ReadAccountsDetail was granted."
    )


class BalanceOut(Schema):
    """One balance of an account at a point in time."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "account_id": "acc_6n4xq2mjv7k3d5wzr2hbsc3e7fga",
                    "type": "InterimAvailable",
                    "amount": {"value": "5230.17", "currency": "CNY"},
                    "credit_debit": "Credit",
                    "as_of": "2026-11-28T02:00:00Z",
                }
            ]
        },
    )

    account_id: str = Field(pattern=AccountIdPattern)
    type: Literal["InterimAvailable", "InterimBooked"]
    amount: Money
    credit_debit: Literal["Credit", "Debit"]
    as_of: datetime
