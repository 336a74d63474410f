"""The consenting customer (A2: customer information, through a consent)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from gateway.customers.schemas import CustomerOut
from gateway.deps import Call, CallRoute
from gateway.http.responses import JsonResponse
from gateway.http.routing import product

router = APIRouter(prefix="/v1/customer", tags=["Customer"], route_class=CallRoute)


@router.get(
    "",
    summary="The consenting customer",
    openapi_extra=product("customer.read", problems=[501, 503, 504]),
    response_model=CustomerOut,
)
async def get_customer(call: Call) -> Response:
    """Who authorised the consent: the pairwise customer id, the name (the family name only,
    unless ReadPartyDetail was granted), the risk tolerance and the KYC status."""
    consent = call.consent
    assert consent.customer_ref is not None, "an authorised consent names its customer"
    assert consent.psu_id is not None
    customer = await call.services.core.customers.get_customer(
        call.core_context(), consent.customer_ref
    )
    detailed = "ReadPartyDetail" in consent.permissions
    body: CustomerOut = {
        "customer_id": consent.psu_id,
        "name": customer.full_name if detailed else customer.family_name,
        "risk_tolerance": customer.risk_tolerance,
        "kyc_status": customer.kyc_status,
    }
    return JsonResponse(body)
