"""Capabilities and product catalogues (A1: product and service information)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gateway.deps import CapabilitiesRead, DepositProductsRead
from gateway.routes.params import Cursor, PageSize
from gateway.routes.shape import listing, money, page

router = APIRouter(prefix="/v1", tags=["Capabilities and products"])


@router.get("/capabilities", summary="What this bank's core supports")
async def capabilities(call: CapabilitiesRead) -> dict[str, Any]:
    services = call.services
    declared = services.core.capabilities()
    return {
        "core": services.core.name,
        "environment": services.settings.environment.value,
        "capabilities": sorted(c.value for c in declared),
    }


@router.get(
    "/products/deposits",
    summary="Term-deposit products",
)
async def deposit_products(
    call: DepositProductsRead,
    page_size: PageSize = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    products = await call.services.core.list_deposit_products(call.core_context)
    chunk, next_cursor = page(products, page_size, cursor)
    return listing(
        [
            {
                "product_id": "prd_" + p.core_ref.replace("/", "_"),
                "name": p.name,
                "term_months": p.term_months,
                "annual_rate": str(p.annual_rate),
                "min_amount": money(p.min_amount),
                "currency": p.currency,
                "description": p.description,
            }
            for p in chunk
        ],
        next_cursor,
    )
