"""The consent as the gateway keeps it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from gateway.clock import utcnow
from policies.pipeline import ConsentView
from policies.vocabulary import MOVES_FUNDS, SCOPE_OF_TYPE, ConsentStatus, ConsentType

MAX_LIFETIME = timedelta(days=365)
DEFAULT_LIFETIME = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class Consent:
    id: str
    partner_id: str
    client_id: str
    type: ConsentType
    permissions: tuple[str, ...]
    status: ConsentStatus
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    payment: dict[str, Any] | None = None
    customer_ref: str | None = None
    psu_id: str | None = None
    accounts: dict[str, str] | None = None

    @property
    def moves_funds(self) -> bool:
        return bool(MOVES_FUNDS & set(self.permissions))

    @property
    def scope(self) -> str:
        return SCOPE_OF_TYPE[self.type]

    def with_clock(self) -> Consent:
        """The consent as of now: a live consent past its expiry reads as `Expired`."""
        if self.status.is_live and self.expires_at is not None and self.expires_at <= utcnow():
            return replace(self, status=ConsentStatus.EXPIRED)
        return self

    def view(self) -> ConsentView:
        return ConsentView(
            id=self.id,
            partner_id=self.partner_id,
            client_id=self.client_id,
            type=self.type.value,
            status=self.status.value,
            permissions=frozenset(self.permissions),
            expires_at=self.expires_at.timestamp() if self.expires_at else None,
            customer_ref=self.customer_ref,
            psu_id=self.psu_id,
            accounts=self.accounts or {},
        )
