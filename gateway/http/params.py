"""Query parameters shared by list routes."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated, Any

from fastapi import Query
from pydantic import PlainValidator, WithJsonSchema

from gateway.http.validation import InvalidValue
from policies.messages import Text

PageSize = Annotated[int, Query(ge=1, le=200, description="Items per page (1-200).")]
Cursor = Annotated[str | None, Query(max_length=200, description="Cursor from `next_cursor`.")]

# Plain dates in query parameters are days of the bank's calendar: China Standard Time.
CHINA_TIME = timezone(timedelta(hours=8), "CST")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# RFC 3339 §5.6 date-time, always with its offset.
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")
NOT_AN_INSTANT = Text(
    "This must be an RFC 3339 date-time with an offset, such as 2026-11-01T00:00:00+08:00 "
    "(write + as %2B in a URL), or a date such as 2026-11-01.",
    "此处必须是带时区偏移的 RFC 3339 时间，如 2026-11-01T00:00:00+08:00"
    "（URL 中的 + 须写作 %2B），或日期，如 2026-11-01。",
)


def parse_instant(value: Any) -> datetime:
    """An RFC 3339 date-time with offset, or a plain date taken as 00:00 China time."""
    if isinstance(value, str):
        text = value.upper()  # RFC 3339 §5.6: "t" and "z" may be lowercase
        try:
            if _DATE.match(text):
                return datetime.combine(date.fromisoformat(text), time(), CHINA_TIME)
            if _DATE_TIME.match(text):
                return datetime.fromisoformat(text)
        except ValueError:
            pass  # digits in the right places, but no such day or time
    raise InvalidValue(NOT_AN_INSTANT)


Instant = Annotated[
    datetime,
    PlainValidator(parse_instant),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "string", "format": "date"},
            ]
        }
    ),
]
