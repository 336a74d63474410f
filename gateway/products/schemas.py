"""What partners see of the bank's capabilities and products."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from gateway.http.schemas import Money, Schema


class CapabilitiesOut(Schema):
    """The capabilities this bank's core offers; the others answer `501`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "core": "sandbox",
                    "environment": "sandbox",
                    "capabilities": ["accounts", "customers", "deposits", "loans", "wealth"],
                }
            ]
        },
    )

    core: str = Field(description="The core banking system behind the gateway.")
    environment: Literal["sandbox", "production"]
    capabilities: list[str]


class DepositProductOut(Schema):
    """A term-deposit product."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "product_id": "prd_deposit_12m",
                    "name": "1年期整存整取",
                    "term_months": 12,
                    "annual_rate": "1.45",
                    "min_amount": {"value": "50.00", "currency": "CNY"},
                    "currency": "CNY",
                    "description": "",
                }
            ]
        },
    )

    product_id: str = Field(pattern=r"^prd_[A-Za-z0-9_-]+$")
    name: str
    term_months: int = Field(ge=1)
    annual_rate: str = Field(description="Percent per annum, as a decimal string.")
    min_amount: Money
    currency: str
    description: str
