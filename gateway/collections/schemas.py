"""What partners send to issue a bill, and what they see of bills and statements."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import BeforeValidator, ConfigDict, Field, with_config
from pydantic.config import JsonDict
from typing_extensions import TypedDict

from adapters.contract import Money as CoreMoney
from gateway.collections.models import Bill, BillCategory, BillStatus, SettlementChannel
from gateway.collections.statement import Statement, StatementStatus
from gateway.http.schemas import Money, MoneyIn, Page, Schema, closed, money
from gateway.http.validation import InvalidValue
from policies.messages import Text

BillIdPattern = r"^bill_[a-z2-7]{1,64}$"
PayerReference = r"^[A-Za-z0-9_-]{1,64}$"
PAY_CODE = r"^\d{12}$"

_BILL_EXAMPLE: JsonDict = {
    "bill_id": "bill_m3xq7k2n5v4w6d2f8hjb3c4e",
    "status": "Open",
    "pay_code": "483920175632",
    "payer_reference": "S2026-0417",
    "payer_name": "张小明",
    "amount": {"value": "3800.00", "currency": "CNY"},
    "due_date": "2026-12-15",
    "category": "tuition",
    "description": "2026 秋季学期学费",
    "created_at": "2026-11-28T02:00:00Z",
    "status_updated_at": "2026-11-28T02:00:00Z",
    "settles_at": None,
    "settled_at": None,
    "channel": None,
    "payment_id": None,
}


NOT_A_DATE = Text("This must be a date (YYYY-MM-DD).", "此处必须是日期（YYYY-MM-DD）。")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date_text(value: object) -> object:
    """Only `YYYY-MM-DD` text: not a number of seconds, nor a timestamp at midnight."""
    if isinstance(value, str) and ISO_DATE.match(value):
        return value
    raise InvalidValue(NOT_A_DATE)


CalendarDate = Annotated[date, BeforeValidator(_iso_date_text)]


class BillRequest(Schema):
    """A bill to collect from one payer."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "payer_reference": "S2026-0417",
                    "payer_name": "张小明",
                    "amount": {"value": "3800.00", "currency": "CNY"},
                    "due_date": "2026-12-15",
                    "category": "tuition",
                    "description": "2026 秋季学期学费",
                }
            ]
        },
    )

    payer_reference: str = Field(
        pattern=PayerReference,
        description="Your reference for the payer (student number, patient id, account): "
        "1-64 of A-Z, a-z, 0-9, '_' and '-'.",
    )
    payer_name: str = Field(min_length=1, max_length=140)
    amount: MoneyIn
    due_date: CalendarDate = Field(
        description="YYYY-MM-DD: from today (China business day, UTC+8) to 366 days ahead. "
        "An unpaid bill expires when its due date has passed.",
    )
    category: BillCategory
    description: str = Field(min_length=1, max_length=280)


@with_config(closed(_BILL_EXAMPLE))
class BillOut(TypedDict):
    """A bill and its status. `pay_code` is what a payer keys in at a bank counter, ATM or
    in mobile banking: twelve digits, the last a Luhn check digit."""

    bill_id: Annotated[str, Field(pattern=BillIdPattern)]
    status: BillStatus
    pay_code: Annotated[str, Field(pattern=PAY_CODE)]
    payer_reference: str
    payer_name: str
    amount: Money
    due_date: date
    category: BillCategory
    description: str
    created_at: datetime
    status_updated_at: datetime
    settles_at: Annotated[
        datetime | None,
        Field(description="When a pending bank-channel payment settles (the bill is held)."),
    ]
    settled_at: Annotated[datetime | None, Field(description="When the money arrived.")]
    channel: Annotated[
        SettlementChannel | None, Field(description="How the bill was paid, once Paid.")
    ]
    payment_id: Annotated[
        str | None,
        Field(description="The customer payment that pays (or holds) the bill, if any."),
    ]


BillPage = Page[BillOut]


def bill_out(bill: Bill) -> BillOut:
    return {
        "bill_id": bill.id,
        "status": bill.status,
        "pay_code": bill.pay_code,
        "payer_reference": bill.payer_reference,
        "payer_name": bill.payer_name,
        "amount": money(bill.amount),
        "due_date": bill.due_date,
        "category": bill.category,
        "description": bill.description,
        "created_at": bill.created_at,
        "status_updated_at": bill.status_updated_at,
        "settles_at": bill.settles_at,
        "settled_at": bill.settled_at,
        "channel": bill.channel,
        "payment_id": bill.payment_id,
    }


_ITEM_EXAMPLE: JsonDict = {
    "bill_id": "bill_m3xq7k2n5v4w6d2f8hjb3c4e",
    "payer_reference": "S2026-0417",
    "category": "tuition",
    "amount": {"value": "3800.00", "currency": "CNY"},
    "channel": "bank_channel",
    "payment_id": None,
    "settled_at": "2026-11-28T03:15:20Z",
}
_CSV_EXAMPLE = (
    "bill_id,payer_reference,category,amount,channel,payment_id,settled_at\r\n"
    "bill_m3xq7k2n5v4w6d2f8hjb3c4e,S2026-0417,tuition,3800.00,bank_channel,,"
    "2026-11-28T03:15:20Z\r\n"
)


@with_config(closed(_ITEM_EXAMPLE))
class StatementItemOut(TypedDict):
    """One settled bill."""

    bill_id: str
    payer_reference: str
    category: BillCategory
    amount: Money
    channel: SettlementChannel
    payment_id: str | None
    settled_at: datetime


@with_config(
    closed({"category": "tuition", "count": 1, "total": {"value": "3800.00", "currency": "CNY"}})
)
class CategoryTotalOut(TypedDict):
    """How many bills of one category settled that day, and their sum."""

    category: BillCategory
    count: int
    total: Money


@with_config(
    closed(
        {
            "date": "2026-11-28",
            "status": "closed",
            "count": 1,
            "total": {"value": "3800.00", "currency": "CNY"},
            "categories": [
                {
                    "category": "tuition",
                    "count": 1,
                    "total": {"value": "3800.00", "currency": "CNY"},
                }
            ],
            "items": [_ITEM_EXAMPLE],
            "digest": "6f1c0c7b2a3f7d1e9b8a4c5d6e7f80911a2b3c4d5e6f708192a3b4c5d6e7f809",
        }
    )
)
class StatementOut(TypedDict):
    """Every bill settled on one China business day, in settlement order, with totals."""

    date: date
    status: Annotated[
        StatementStatus,
        Field(description="`closed`: the day is over and the statement final; `open`: today."),
    ]
    count: int
    total: Money
    categories: list[CategoryTotalOut]
    items: list[StatementItemOut]
    digest: Annotated[
        str,
        Field(
            pattern=r"^[0-9a-f]{64}$",
            description="Hex SHA-256 of the statement's CSV (`Accept: text/csv`), byte for byte.",
        ),
    ]


CSV_EXAMPLE = _CSV_EXAMPLE


def statement_out(statement: Statement) -> StatementOut:
    def cents(value: int) -> Money:
        return money(CoreMoney.of_cents(value))

    return {
        "date": statement.day,
        "status": statement.status,
        "count": statement.count,
        "total": cents(statement.total_cents),
        "categories": [
            {"category": c.category, "count": c.count, "total": cents(c.total_cents)}
            for c in statement.categories
        ],
        "items": [
            {
                "bill_id": i.bill_id,
                "payer_reference": i.payer_reference,
                "category": i.category,
                "amount": cents(i.amount_cents),
                "channel": i.channel,
                "payment_id": i.payment_id,
                "settled_at": i.settled_at,
            }
            for i in statement.items
        ],
        "digest": statement.digest,
    }
