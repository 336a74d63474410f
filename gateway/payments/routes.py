"""Payments (A2: fund movement, under a customer's payment consent)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path
from starlette.responses import Response

from gateway.deps import Call, CallRoute
from gateway.http.responses import JsonResponse
from gateway.http.routing import product
from gateway.payments.schemas import PaymentIdPattern, PaymentOut, PaymentRequest, payment_out

router = APIRouter(prefix="/v1/payments", tags=["Payments"], route_class=CallRoute)
PaymentId = Annotated[str, Path(pattern=PaymentIdPattern, description="A payment id")]


@router.post(
    "",
    status_code=201,
    summary="Make the payment a customer consented to",
    openapi_extra=product("payments.create", problems=[400, 404, 409, 422, 501, 503, 504]),
    response_model=PaymentOut,
    response_description="The payment: Completed, or Pending until the money has moved.",
)
async def create_payment(call: Call, body: Annotated[PaymentRequest, Body()]) -> Response:
    """Pay exactly the consent's amount, creditor and reference from an account the customer
    chose; the consent is then used up. Send an `Idempotency-Key` and reuse it to retry: a
    retry never pays twice (after a `504` the payment is looked up in the core first). The
    core's refusals are problems (`insufficient-funds`, `account-frozen`) that carry the
    rejected `payment_id`; naming a `bill_id` settles that bill of yours. Each status change
    is a `payment.status_changed` event."""
    return await call.services.payments.initiate(call.exchange, body)


@router.get(
    "/{payment_id}",
    summary="A payment and its status",
    openapi_extra=product("payments.read", problems=[404]),
    response_model=PaymentOut,
)
async def get_payment(call: Call, payment_id: PaymentId) -> Response:
    """A payment made under this token's consent, with its current status."""
    payment = await call.services.payments.get(call.partner_id, call.consent.id, payment_id)
    return JsonResponse(payment_out(payment), headers={"Cache-Control": "no-store"})
