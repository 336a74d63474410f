"""Shapes every part of the API shares: money, lists, and the problem document."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from adapters.contract import Money as CoreMoney

T = TypeVar("T")
CENT = Decimal("0.01")
MONEY_VALUE = re.compile(r"^(0|[1-9]\d{0,12})\.\d{2}$")
Currency = Literal["CNY"]


class Schema(BaseModel):
    """Base of every request and response body: unknown fields are refused (DESIGN §4)."""

    model_config = ConfigDict(extra="forbid")


def _positive_amount(value: str) -> str:
    if not MONEY_VALUE.match(value) or Decimal(value) <= 0:
        raise ValueError(
            "a positive decimal string with exactly two fraction digits and at most 13 integer "
            "digits, such as '128.50'"
        )
    return value


AmountValue = Annotated[
    str,
    Field(pattern=MONEY_VALUE.pattern, examples=["128.50"]),
    AfterValidator(_positive_amount),
]


class MoneyIn(Schema):
    """An amount a partner sends: a positive decimal string with two fraction digits."""

    value: AmountValue
    currency: Currency = "CNY"


class Money(Schema):
    """An amount: a decimal string with exactly two fraction digits, never a float."""

    value: str = Field(pattern=MONEY_VALUE.pattern, examples=["128.50"])
    currency: str = Field(min_length=3, max_length=3, examples=["CNY"])

    @classmethod
    def of(cls, amount: CoreMoney) -> Money:
        return cls(value=str(amount.value.quantize(CENT)), currency=amount.currency)


class Page(Schema, Generic[T]):
    """One page of a list; pass `next_cursor` as `?cursor=` for the next (null: last page)."""

    data: list[T]
    next_cursor: str | None = Field(description="The cursor of the next page, or null.")


class FieldProblem(Schema):
    """One invalid input: where it is (dotted path) and what is wrong."""

    path: str = Field(examples=["amount.value"])
    message: str = Field(examples=["a positive decimal string with exactly two fraction digits"])


class Problem(Schema):
    """An RFC 9457 problem document (`application/problem+json`)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "type": "/problems/invalid-token",
                    "title": "Invalid or missing access token",
                    "status": 401,
                    "detail": "the access token has expired",
                    "instance": "9d4c1f0e-6a1b-4c55-9a43-0c2f7f6f9b1e",
                    "code": "invalid-token",
                }
            ]
        },
    )

    type: str = Field(description="A link to the page that explains this problem.")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    instance: str = Field(description="The request id; quote it when asking for help.")
    code: str = Field(description="The stable problem code.")
    errors: list[FieldProblem] | None = None
