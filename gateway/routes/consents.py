"""Consents: a partner asks, the customer authorises at /oauth/authorize, anyone may revoke."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from starlette.responses import Response

from gateway.consents import MAX_LIFETIME, PERMISSIONS, Consent, ConsentType
from gateway.deps import Admitted, ConsentsCreate, ConsentsRead, ConsentsRevoke
from gateway.errors import NotFoundError

router = APIRouter(prefix="/v1/consents", tags=["Consents"])
ConsentId = Path(pattern=r"^cns_[a-z2-7]{1,64}$")
MONEY_VALUE = re.compile(r"^(0|[1-9]\d{0,12})\.\d{2}$")


class MoneyIn(BaseModel):
    """An amount: a decimal string with two fraction digits, and a currency."""

    model_config = ConfigDict(extra="forbid")

    value: str = Field(examples=["128.50"])
    currency: Literal["CNY"] = "CNY"

    @field_validator("value")
    @classmethod
    def _two_places_positive(cls, value: str) -> str:
        if not MONEY_VALUE.match(value) or Decimal(value) <= 0:
            raise ValueError("a positive decimal string with exactly two fraction digits")
        return value


class Creditor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_number: str = Field(pattern=r"^\d{8,32}$")
    name: str = Field(min_length=1, max_length=140)


class PaymentTerms(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: MoneyIn
    creditor: Creditor
    reference: str = Field(min_length=1, max_length=140)


class ConsentRequest(BaseModel):
    """What the partner asks the customer to allow."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"type": "account_access", "permissions": ["ReadAccountsBasic", "ReadBalances"]}
            ]
        },
    )

    type: ConsentType
    permissions: list[str] = Field(min_length=1, max_length=10)
    expires_at: datetime | None = None
    payment: PaymentTerms | None = None

    @model_validator(mode="after")
    def _coherent(self) -> ConsentRequest:
        allowed = PERMISSIONS[self.type]
        unknown = [p for p in self.permissions if p not in allowed]
        if unknown:
            raise ValueError(
                f"permissions {unknown} are not valid for a {self.type.value} consent "
                f"(allowed: {', '.join(allowed)})"
            )
        if (self.type is ConsentType.PAYMENT) != (self.payment is not None):
            raise ValueError("'payment' is required for payment consents and only for them")
        if self.expires_at is not None:
            if self.expires_at.tzinfo is None:
                raise ValueError("expires_at must carry a timezone (RFC 3339)")
            now = datetime.now(UTC)
            if not now < self.expires_at <= now + MAX_LIFETIME:
                raise ValueError("expires_at must be in the future and within one year")
        return self


async def _own(call: Admitted, consent_id: str) -> Consent:
    consent = await call.services.consents.get(consent_id)
    if consent is None or consent.partner_id != call.grant.partner_id:
        raise NotFoundError("no such consent")
    return consent


@router.post("", status_code=201, summary="Ask for a consent")
async def create_consent(
    call: ConsentsCreate,
    response: Response,
    body: Annotated[ConsentRequest, Body()],
) -> dict[str, Any]:
    consent = await call.services.consents.create(
        partner_id=call.grant.partner_id,
        client_id=call.grant.client_id,
        type=body.type,
        permissions=body.permissions,
        expires_at=body.expires_at,
        payment=body.payment.model_dump() if body.payment else None,
    )
    response.headers["Location"] = f"/v1/consents/{consent.id}"
    response.headers["Cache-Control"] = "no-store"
    return consent.public()


@router.get("/{consent_id}", summary="A consent and its status")
async def get_consent(
    call: ConsentsRead, response: Response, consent_id: str = ConsentId
) -> dict[str, Any]:
    response.headers["Cache-Control"] = "no-store"
    return (await _own(call, consent_id)).public()


@router.delete(
    "/{consent_id}",
    status_code=204,
    summary="Revoke a consent",
)
async def revoke_consent(call: ConsentsRevoke, consent_id: str = ConsentId) -> Response:
    await _own(call, consent_id)
    await call.services.consents.revoke(consent_id)
    return Response(status_code=204)
