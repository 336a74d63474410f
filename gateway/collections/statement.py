"""The daily statement: every bill settled on one China business day, its totals, and the
CSV whose SHA-256 digest lets a partner check what it downloaded.

Pure functions over settled items: the digest is computed from the exact bytes that
`Accept: text/csv` returns, so a partner hashes the CSV body and compares it with the
`digest` of the JSON statement and the `Statement-Digest` header of either.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

from adapters.contract import Money
from gateway.collections.models import BillCategory, SettlementChannel

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
CSV_COLUMNS = (
    "bill_id",
    "payer_reference",
    "category",
    "amount",
    "channel",
    "payment_id",
    "settled_at",
)
DIGEST_HEADER = "Statement-Digest"


class StatementStatus(StrEnum):
    """`closed`: the day is over for the partner and its statement never changes again;
    `open`: today, still growing."""

    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class StatementItem:
    """One settled bill, as the statement lists it."""

    bill_id: str
    payer_reference: str
    category: BillCategory
    amount_cents: int
    channel: SettlementChannel
    payment_id: str | None
    settled_at: datetime


@dataclass(frozen=True, slots=True)
class CategoryTotal:
    category: BillCategory
    count: int
    total_cents: int


@dataclass(frozen=True, slots=True)
class Statement:
    """A day's settled items in settlement order, with exact totals and the CSV digest."""

    day: date
    status: StatementStatus
    items: tuple[StatementItem, ...]
    categories: tuple[CategoryTotal, ...]
    count: int
    total_cents: int
    csv: bytes
    digest: str

    @property
    def total(self) -> Money:
        return Money.of_cents(self.total_cents)


def rfc3339(moment: datetime) -> str:
    """`moment` in UTC with `Z`, as the JSON responses write timestamps."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def amount_text(cents: int) -> str:
    """Cents as a decimal string with exactly two fraction digits, with no float involved."""
    sign = "-" if cents < 0 else ""
    whole, fraction = divmod(abs(cents), 100)
    return f"{sign}{whole}.{fraction:02d}"


def render_csv(items: Sequence[StatementItem]) -> bytes:
    """RFC 4180: UTF-8 without a BOM, `\\r\\n` line ends, a header line, one line per item."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(CSV_COLUMNS)
    for item in items:
        writer.writerow(
            (
                item.bill_id,
                item.payer_reference,
                item.category.value,
                amount_text(item.amount_cents),
                item.channel.value,
                item.payment_id or "",
                rfc3339(item.settled_at),
            )
        )
    return buffer.getvalue().encode("utf-8")


def build_statement(
    day: date, status: StatementStatus, items: Sequence[StatementItem]
) -> Statement:
    """The statement of `day` over `items` (sorted here by settlement time, then bill id)."""
    ordered = tuple(sorted(items, key=lambda i: (i.settled_at, i.bill_id)))
    counts: dict[BillCategory, list[int]] = {}
    for item in ordered:
        entry = counts.setdefault(item.category, [0, 0])
        entry[0] += 1
        entry[1] += item.amount_cents
    categories = tuple(
        CategoryTotal(category, *counts[category])
        for category in BillCategory
        if category in counts
    )
    body = render_csv(ordered)
    return Statement(
        day=day,
        status=status,
        items=ordered,
        categories=categories,
        count=len(ordered),
        total_cents=sum(item.amount_cents for item in ordered),
        csv=body,
        digest=hashlib.sha256(body).hexdigest(),
    )
