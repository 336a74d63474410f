"""Shapes every part of the API shares: money, lists, and the problem document.

Request bodies are pydantic models: they validate what partners send, and refuse unknown
fields (DESIGN §4) and control characters in any text. Response bodies are `TypedDict`s:
mypy checks that routes fill them exactly, pydantic derives their schemas for the API
description, and orjson writes them (`JsonResponse`) without a second validation on the way
out.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Generic, Literal, NotRequired, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, with_config
from pydantic.config import JsonDict
from typing_extensions import TypedDict

from adapters.contract import Money as CoreMoney
from gateway.http.validation import InvalidValue, plain_text
from policies.messages import Text

T = TypeVar("T")
CENT = Decimal("0.01")
MONEY_VALUE = re.compile(r"^(0|[1-9]\d{0,12})\.\d{2}$")
Currency = Literal["CNY"]
CLOSED = ConfigDict(extra="forbid")


def closed(*examples: JsonDict) -> ConfigDict:
    """The pydantic config of a response shape: no other members, with its examples."""
    extra: JsonDict = {"examples": [*examples]}
    return ConfigDict(extra="forbid", json_schema_extra=extra)


class Schema(BaseModel):
    """Base of every request body: unknown fields and control characters are refused."""

    model_config = CLOSED

    @field_validator("*")
    @classmethod
    def _plain_text(cls, value: object) -> object:
        return plain_text(value)


NOT_AN_AMOUNT = Text(
    "This must be a positive decimal string with exactly two fraction digits and at most 13 "
    'integer digits, such as "128.50".',
    '此处必须是正的十进制字符串，恰好两位小数、整数部分最多 13 位，如 "128.50"。',
)


def _positive_amount(value: str) -> str:
    if not MONEY_VALUE.match(value) or Decimal(value) <= 0:
        raise InvalidValue(NOT_AN_AMOUNT)
    return value


AmountValue = Annotated[
    str,
    # The pattern is documented, and checked by the validator, whose message says it in words.
    Field(examples=["128.50"], json_schema_extra={"pattern": MONEY_VALUE.pattern}),
    AfterValidator(_positive_amount),
]


class MoneyIn(Schema):
    """An amount a partner sends: a positive decimal string with two fraction digits."""

    value: AmountValue
    currency: Currency = "CNY"


@with_config(closed({"value": "128.50", "currency": "CNY"}))
class Money(TypedDict):
    """An amount: a decimal string with exactly two fraction digits, never a float."""

    value: Annotated[str, Field(pattern=MONEY_VALUE.pattern)]
    currency: Annotated[str, Field(min_length=3, max_length=3)]


def money(amount: CoreMoney) -> Money:
    """A core amount as the API writes it."""
    return {"value": str(amount.value.quantize(CENT)), "currency": amount.currency}


@with_config(CLOSED)
class Page(TypedDict, Generic[T]):
    """One page of a list; pass `next_cursor` as `?cursor=` for the next (null: last page)."""

    data: list[T]
    next_cursor: Annotated[str | None, Field(description="The next page's cursor, or null.")]


@with_config(CLOSED)
class FieldProblem(TypedDict):
    """One invalid input: where it is (dotted path) and what is wrong."""

    path: Annotated[str, Field(examples=["amount.value"])]
    message: str


@with_config(
    closed(
        {
            "type": "/problems/invalid-token",
            "title": "Invalid or missing access token",
            "status": 401,
            "detail": "the access token has expired",
            "instance": "9d4c1f0e-6a1b-4c55-9a43-0c2f7f6f9b1e",
            "code": "invalid-token",
        }
    )
)
class Problem(TypedDict):
    """An RFC 9457 problem document (`application/problem+json`)."""

    type: Annotated[str, Field(description="A link to the page that explains this problem.")]
    title: str
    status: Annotated[int, Field(ge=400, le=599)]
    detail: str
    instance: Annotated[str, Field(description="The request id; quote it when asking for help.")]
    code: Annotated[str, Field(description="The stable problem code.")]
    errors: NotRequired[list[FieldProblem]]
