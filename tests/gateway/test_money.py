"""Money: parsing, exact cents, two-decimal strings, and never a float on the wire."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from adapters.contract import Money
from gateway.http.schemas import MONEY_VALUE, MoneyIn, money

MAX_CENTS = 10**15 - 1  # 13 integer digits and two fraction digits
cents = st.integers(min_value=1, max_value=MAX_CENTS)


def no_floats(text: str) -> Any:
    def refuse(value: str) -> Any:
        raise AssertionError(f"a float on the wire: {value}")

    return json.loads(text, parse_float=refuse)


class TestMoney:
    @given(cents)
    def test_cents_round_trip(self, amount: int) -> None:
        """Any whole number of cents survives Money, the API string and MoneyIn exactly."""
        written = money(Money.of_cents(amount))
        assert MONEY_VALUE.match(written["value"])
        parsed = MoneyIn.model_validate(written)
        assert Money(Decimal(parsed.value)).cents == amount
        assert Decimal(written["value"]) * 100 == amount

    @given(
        st.decimals(min_value=Decimal("0.001"), max_value=Decimal("9999999999999.999"), places=3)
    )
    def test_three_decimals_are_refused_not_rounded(self, value: Decimal) -> None:
        """A value with a third decimal is refused, never rounded to a cent."""
        if value == value.quantize(Decimal("0.01")):
            return
        with pytest.raises(ValidationError):
            MoneyIn.model_validate({"value": f"{value:.3f}", "currency": "CNY"})
        with pytest.raises(ValueError, match="more than two"):
            _ = Money(value).cents

    @given(st.floats(allow_nan=True, allow_infinity=True))
    def test_floats_are_refused(self, value: float) -> None:
        """A JSON number is not an amount, whatever its value."""
        with pytest.raises(ValidationError):
            MoneyIn.model_validate({"value": value, "currency": "CNY"})

    @pytest.mark.parametrize(
        "value", ["0.00", "-1.00", "1", "1.0", "01.00", "1e3", " 1.00", "12345678901234.00", ""]
    )
    def test_malformed_strings_are_refused(self, value: str) -> None:
        """Zero, negatives, missing or extra decimals, leading zeros, exponents and more than 13
        integer digits are not amounts."""
        with pytest.raises(ValidationError):
            MoneyIn.model_validate({"value": value, "currency": "CNY"})

    def test_other_currencies_are_refused(self) -> None:
        """Only CNY is an accepted currency."""
        with pytest.raises(ValidationError):
            MoneyIn.model_validate({"value": "1.00", "currency": "USD"})
        assert MoneyIn.model_validate({"value": "1.00"}).currency == "CNY"

    @given(st.lists(cents, min_size=1, max_size=50))
    def test_sums_are_exact(self, amounts: list[int]) -> None:
        """Summing amounts as Money gives the sum of their cents, to the cent."""
        total = sum((Money.of_cents(a).value for a in amounts), Decimal(0))
        assert Money(total).cents == sum(amounts)
        assert no_floats(json.dumps(money(Money(total)))) == money(Money(total))
