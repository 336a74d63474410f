"""What partners see of the bank's capabilities and products."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, with_config
from typing_extensions import TypedDict

from gateway.http.schemas import Money, closed

ProductId = Annotated[str, Field(pattern=r"^prd_[A-Za-z0-9_-]+$")]
Rate = Annotated[str, Field(description="Percent per annum, as a decimal string.")]


@with_config(
    closed(
        {
            "core": "sandbox",
            "environment": "sandbox",
            "capabilities": ["accounts", "customers", "deposits", "loans", "wealth"],
        }
    )
)
class CapabilitiesOut(TypedDict):
    """The capabilities this bank's core offers; the others answer `501`."""

    core: Annotated[str, Field(description="The core banking system behind the gateway.")]
    environment: Literal["sandbox", "production"]
    capabilities: list[str]


@with_config(
    closed(
        {
            "product_id": "prd_loan_student",
            "name": "国家助学贷款",
            "min_amount": {"value": "1000.00", "currency": "CNY"},
            "max_amount": {"value": "20000.00", "currency": "CNY"},
            "min_term_months": 12,
            "max_term_months": 240,
            "annual_rate": "2.95",
            "description": "",
        }
    )
)
class LoanProductOut(TypedDict):
    """A loan product."""

    product_id: ProductId
    name: str
    min_amount: Money
    max_amount: Money
    min_term_months: Annotated[int, Field(ge=1)]
    max_term_months: Annotated[int, Field(ge=1)]
    annual_rate: Rate
    description: str


@with_config(
    closed(
        {
            "product_id": "prd_wealth_r2",
            "name": "稳享90天固收",
            "risk_level": "R2",
            "expected_annual_return": "2.60",
            "min_amount": {"value": "10000.00", "currency": "CNY"},
            "unit_nav": "1.0213",
            "description": "",
        }
    )
)
class WealthProductOut(TypedDict):
    """A wealth-management product and its risk level (R1 lowest to R5 highest)."""

    product_id: ProductId
    name: str
    risk_level: Literal["R1", "R2", "R3", "R4", "R5"]
    expected_annual_return: Annotated[str, Field(description="Percent per annum, not guaranteed.")]
    min_amount: Money
    unit_nav: Annotated[str, Field(description="Net asset value per unit.")]
    description: str


@with_config(
    closed(
        {
            "product_id": "prd_deposit_12m",
            "name": "1年期整存整取",
            "term_months": 12,
            "annual_rate": "1.45",
            "min_amount": {"value": "50.00", "currency": "CNY"},
            "currency": "CNY",
            "description": "",
        }
    )
)
class DepositProductOut(TypedDict):
    """A term-deposit product."""

    product_id: ProductId
    name: str
    term_months: Annotated[int, Field(ge=1)]
    annual_rate: Rate
    min_amount: Money
    currency: str
    description: str
