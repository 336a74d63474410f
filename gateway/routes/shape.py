"""Shaping canonical models into the public JSON, and list pagination."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from adapters.contract import Money
from gateway.errors import FieldError, InvalidRequestError

T = TypeVar("T")
CENT = Decimal("0.01")


def money(amount: Money) -> dict[str, str]:
    return {"value": str(amount.value.quantize(CENT)), "currency": amount.currency}


def timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def day(value: date) -> str:
    return value.isoformat()


def page(items: Sequence[T], page_size: int, cursor: str | None) -> tuple[list[T], str | None]:
    """Offset pagination behind an opaque cursor."""
    offset = 0
    if cursor:
        try:
            offset = int(base64.urlsafe_b64decode(cursor.encode() + b"==").decode())
        except (ValueError, UnicodeDecodeError):
            raise InvalidRequestError(
                "the cursor is not valid", errors=[FieldError("cursor", "not a cursor we issued")]
            ) from None
        if offset < 0:
            raise InvalidRequestError("the cursor is not valid")
    chunk = list(items[offset : offset + page_size])
    following = offset + page_size
    next_cursor = (
        base64.urlsafe_b64encode(str(following).encode()).decode().rstrip("=")
        if following < len(items)
        else None
    )
    return chunk, next_cursor


def listing(data: list[dict[str, Any]], next_cursor: str | None) -> dict[str, Any]:
    return {"data": data, "next_cursor": next_cursor}
