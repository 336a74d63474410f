"""Consents: a partner asks, the customer authorises at /oauth/authorize, anyone may revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path
from starlette.responses import Response

from gateway.consents.models import Consent
from gateway.consents.schemas import ConsentIdPattern, ConsentOut, ConsentRequest, consent_out
from gateway.deps import Call, CallRoute
from gateway.errors import NotFoundError
from gateway.http.responses import JsonResponse
from gateway.http.routing import product
from gateway.idempotency import answer
from gateway.payments.service import check_per_consent_cap
from policies.messages import Text

router = APIRouter(prefix="/v1/consents", tags=["Consents"], route_class=CallRoute)
ConsentId = Annotated[str, Path(pattern=ConsentIdPattern, description="A consent id")]
NO_SUCH_CONSENT = Text(
    "You have no consent with this id: check the consent_id that POST /v1/consents returned.",
    "您没有此编号的授权：请核对 POST /v1/consents 返回的 consent_id。",
)


async def _own(call: Call, consent_id: str) -> Consent:
    consent = await call.services.consents.get(consent_id)
    if consent is None or consent.partner_id != call.partner_id:
        raise NotFoundError(NO_SUCH_CONSENT)
    return consent


@router.post(
    "",
    status_code=201,
    summary="Ask for a consent",
    openapi_extra=product("consents.create"),
    response_model=ConsentOut,
    response_description="The consent, awaiting the customer's authorisation.",
)
async def create_consent(call: Call, body: Annotated[ConsentRequest, Body()]) -> Response:
    """Create a consent for the customer to authorise through `/oauth/par` and
    `/oauth/authorize`. It is `AwaitingAuthorisation` until then."""
    if body.payment is not None:
        await check_per_consent_cap(call.services, call.partner_id, body.payment.amount.value)
    services = call.services
    async with services.db.transaction() as uow:
        consent = await services.consents.create(
            partner_id=call.partner_id,
            client_id=call.grant.client_id,
            type=body.type,
            permissions=body.permissions,
            expires_at=body.expires_at,
            payment=body.payment.model_dump() if body.payment else None,
            uow=uow,
        )
        return await answer(
            services.idempotency,
            uow,
            call.exchange,
            201,
            consent_out(consent),
            {"Location": f"/v1/consents/{consent.id}"},
        )


@router.get(
    "/{consent_id}",
    summary="A consent and its status",
    openapi_extra=product("consents.read", problems=[404]),
    response_model=ConsentOut,
)
async def get_consent(call: Call, consent_id: ConsentId) -> Response:
    """One of the partner's consents, with its current status."""
    return JsonResponse(consent_out(await _own(call, consent_id)))


@router.delete(
    "/{consent_id}",
    status_code=204,
    summary="Revoke a consent",
    openapi_extra=product("consents.revoke", problems=[404]),
    response_class=Response,
)
async def revoke_consent(call: Call, consent_id: ConsentId) -> Response:
    """Revoke a consent: its tokens stop working on every replica within a second, and a
    `consent.revoked` event is written. Revoking twice is harmless."""
    await _own(call, consent_id)
    await call.services.consents.revoke(consent_id)
    return Response(status_code=204)
