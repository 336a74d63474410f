"""Properties of statements and pay codes, for arbitrary amounts, categories and times."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from gateway.collections.models import (
    BillCategory,
    SettlementChannel,
    is_valid_pay_code,
    luhn_check_digit,
    new_pay_code,
)
from gateway.collections.schemas import statement_out
from gateway.collections.statement import (
    StatementItem,
    StatementStatus,
    amount_text,
    build_statement,
)
from gateway.http.schemas import MONEY_VALUE

DAY = date(2026, 11, 28)
START = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
MAX_CENTS = 10**15 - 1  # thirteen integer digits

items = st.builds(
    StatementItem,
    bill_id=st.from_regex(r"bill_[a-z2-7]{24}", fullmatch=True),
    payer_reference=st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True),
    category=st.sampled_from(BillCategory),
    amount_cents=st.integers(1, MAX_CENTS),
    channel=st.sampled_from(SettlementChannel),
    payment_id=st.none() | st.from_regex(r"pay_[a-z2-7]{24}", fullmatch=True),
    settled_at=st.integers(0, 86_399_999_999).map(lambda us: START + timedelta(microseconds=us)),
)
item_lists = st.lists(items, max_size=30, unique_by=lambda i: i.bill_id)


def _floats(value: Any) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for v in value.values() for f in _floats(v)]
    if isinstance(value, list | tuple):
        return [f for v in value for f in _floats(v)]
    return []


class TestStatementTotals:
    @given(item_lists)
    def test_totals_are_the_sum_of_the_items(self, found: list[StatementItem]) -> None:
        """The overall and per-category totals and counts equal the items' exact sums."""
        statement = build_statement(DAY, StatementStatus.OPEN, found)
        out = statement_out(statement)
        assert statement.count == len(found)
        assert statement.total_cents == sum(i.amount_cents for i in found)
        assert Decimal(out["total"]["value"]) == sum(
            (Decimal(i["amount"]["value"]) for i in out["items"]), Decimal(0)
        )
        assert sum(c.count for c in statement.categories) == statement.count
        assert sum(c.total_cents for c in statement.categories) == statement.total_cents
        for total in statement.categories:
            mine = [i for i in found if i.category is total.category]
            assert total.count == len(mine) > 0
            assert total.total_cents == sum(i.amount_cents for i in mine)

    @given(item_lists)
    def test_items_in_settlement_order(self, found: list[StatementItem]) -> None:
        """Items come by settlement time, then bill id, whatever order they were found in."""
        statement = build_statement(DAY, StatementStatus.OPEN, list(reversed(found)))
        keys = [(i.settled_at, i.bill_id) for i in statement.items]
        assert keys == sorted(keys)


class TestStatementDigest:
    @given(item_lists.filter(bool), st.data())
    def test_any_change_changes_the_digest(self, found: list[StatementItem], data: Any) -> None:
        """Changing any field of any item changes the CSV and its digest."""
        before = build_statement(DAY, StatementStatus.OPEN, found)
        index = data.draw(st.integers(0, len(found) - 1))
        item = found[index]
        changed = data.draw(
            st.sampled_from(
                [
                    dataclasses.replace(item, amount_cents=item.amount_cents + 1),
                    dataclasses.replace(item, payer_reference=item.payer_reference + "x"),
                    dataclasses.replace(item, bill_id=item.bill_id + "a"),
                    dataclasses.replace(
                        item, settled_at=item.settled_at + timedelta(microseconds=1)
                    ),
                    dataclasses.replace(
                        item,
                        category=next(c for c in BillCategory if c is not item.category),
                    ),
                    dataclasses.replace(
                        item,
                        channel=next(c for c in SettlementChannel if c is not item.channel),
                    ),
                    dataclasses.replace(
                        item, payment_id=None if item.payment_id else "pay_changed"
                    ),
                ]
            )
        )
        after = build_statement(
            DAY, StatementStatus.OPEN, [*found[:index], changed, *found[index + 1 :]]
        )
        assert after.digest != before.digest

    @given(item_lists)
    def test_csv_reads_back(self, found: list[StatementItem]) -> None:
        """The CSV parses back to the items, with `\\r\\n` line ends and exact amounts."""
        statement = build_statement(DAY, StatementStatus.OPEN, found)
        text = statement.csv.decode("utf-8")
        assert text.count("\r\n") == len(found) + 1
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        for row, item in zip(rows, statement.items, strict=True):
            assert row["bill_id"] == item.bill_id
            assert Decimal(row["amount"]) * 100 == item.amount_cents


class TestMoneyStaysDecimal:
    @given(st.integers(1, MAX_CENTS))
    def test_amount_text(self, cents: int) -> None:
        """Cents become a two-decimal string that reads back to the same cents."""
        text = amount_text(cents)
        assert MONEY_VALUE.match(text)
        assert Decimal(text) * 100 == cents

    @given(item_lists)
    def test_no_float_in_the_statement(self, found: list[StatementItem]) -> None:
        """Neither the statement document nor its JSON holds a float."""
        out = statement_out(build_statement(DAY, StatementStatus.CLOSED, found))
        assert _floats(out) == []
        assert _floats(orjson.loads(orjson.dumps(out))) == []


class TestPayCodes:
    def test_new_codes_are_valid(self) -> None:
        """Every new pay code is twelve digits with a valid Luhn check digit."""
        codes = [new_pay_code() for _ in range(2000)]
        assert all(len(code) == 12 and is_valid_pay_code(code) for code in codes)
        assert len(set(codes)) == len(codes)

    @given(st.from_regex(r"[0-9]{11}", fullmatch=True), st.integers(0, 11), st.integers(1, 9))
    def test_one_wrong_digit_is_caught(self, body: str, position: int, shift: int) -> None:
        """Changing any one digit of a valid code makes it invalid."""
        code = body + luhn_check_digit(body)
        digit = str((int(code[position]) + shift) % 10)
        assert not is_valid_pay_code(code[:position] + digit + code[position + 1 :])

    def test_known_value(self) -> None:
        """The check digit of the classic example 7992739871 is 3."""
        assert luhn_check_digit("7992739871") == "3"
