"""Consents: what a customer allowed a partner to do, for how long, on which accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from gateway.ids import new_id
from gateway.oauth.store import OAuthStore
from gateway.storage.database import Database
from gateway.storage.tables import consents
from policies.pipeline import ConsentView


class ConsentType(StrEnum):
    ACCOUNT_ACCESS = "account_access"
    PAYMENT = "payment"
    DEPOSIT = "deposit"
    LOAN = "loan"
    WEALTH = "wealth"


class ConsentStatus(StrEnum):
    AWAITING_AUTHORISATION = "AwaitingAuthorisation"
    AUTHORISED = "Authorised"
    REJECTED = "Rejected"
    CONSUMED = "Consumed"
    REVOKED = "Revoked"
    EXPIRED = "Expired"


PERMISSIONS: dict[ConsentType, tuple[str, ...]] = {
    ConsentType.ACCOUNT_ACCESS: (
        "ReadAccountsBasic",
        "ReadAccountsDetail",
        "ReadBalances",
        "ReadTransactions",
        "ReadParty",
        "ReadPartyDetail",
    ),
    ConsentType.PAYMENT: ("InitiatePayments",),
    ConsentType.DEPOSIT: ("ReadDeposits", "OpenDeposits"),
    ConsentType.LOAN: ("ReadLoans", "ApplyLoans"),
    ConsentType.WEALTH: ("ReadWealth", "TradeWealth"),
}
SCOPE_OF_TYPE: dict[ConsentType, str] = {
    ConsentType.ACCOUNT_ACCESS: "accounts",
    ConsentType.PAYMENT: "payments",
    ConsentType.DEPOSIT: "deposits",
    ConsentType.LOAN: "loans",
    ConsentType.WEALTH: "wealth",
}
# Consents that move funds need a second factor at authorization (DESIGN §3).
MOVES_FUNDS = {"InitiatePayments", "OpenDeposits", "ApplyLoans", "TradeWealth"}
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

    def public(self) -> dict[str, Any]:
        """The consent as partners see it (never the core's customer reference)."""
        body: dict[str, Any] = {
            "consent_id": self.id,
            "type": self.type.value,
            "status": self.status.value,
            "permissions": list(self.permissions),
            "expires_at": _iso(self.expires_at),
            "created_at": _iso(self.created_at),
            "status_updated_at": _iso(self.updated_at),
        }
        if self.payment is not None:
            body["payment"] = self.payment
        if self.psu_id is not None:
            body["customer_id"] = self.psu_id
            body["account_ids"] = sorted((self.accounts or {}).keys())
        return body


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def _row(row: Any) -> Consent:
    status = ConsentStatus(row.status)
    if (
        status in (ConsentStatus.AUTHORISED, ConsentStatus.AWAITING_AUTHORISATION)
        and row.expires_at is not None
        and row.expires_at <= datetime.now(UTC)
    ):
        status = ConsentStatus.EXPIRED
    return Consent(
        id=row.id,
        partner_id=row.partner_id,
        client_id=row.client_id,
        type=ConsentType(row.type),
        permissions=tuple(row.permissions),
        status=status,
        expires_at=row.expires_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        payment=row.payment,
        customer_ref=row.customer_ref,
        psu_id=row.psu_id,
        accounts=dict(row.accounts) if row.accounts else None,
    )


class ConsentStore:
    """Reads and changes consents; revocation also stops every token of the consent."""

    def __init__(self, db: Database, oauth: OAuthStore) -> None:
        self.db = db
        self.oauth = oauth

    async def create(
        self,
        *,
        partner_id: str,
        client_id: str,
        type: ConsentType,
        permissions: list[str],
        expires_at: datetime | None,
        payment: dict[str, Any] | None = None,
    ) -> Consent:
        created = datetime.now(UTC)
        consent = Consent(
            new_id("cns"),
            partner_id,
            client_id,
            type,
            tuple(dict.fromkeys(permissions)),
            ConsentStatus.AWAITING_AUTHORISATION,
            expires_at or created + DEFAULT_LIFETIME,
            created,
            created,
            payment,
        )
        async with self.db.begin() as conn:
            await conn.execute(
                consents.insert().values(
                    id=consent.id,
                    partner_id=partner_id,
                    client_id=client_id,
                    type=type.value,
                    permissions=list(consent.permissions),
                    status=consent.status.value,
                    expires_at=consent.expires_at,
                    payment=payment,
                    created_at=created,
                    updated_at=created,
                )
            )
        return consent

    async def get(self, consent_id: str) -> Consent | None:
        async with self.db.connect() as conn:
            row = (await conn.execute(consents.select().where(consents.c.id == consent_id))).first()
        return _row(row) if row else None

    async def consent_view(self, consent_id: str) -> ConsentView | None:
        consent = await self.get(consent_id)
        return consent.view() if consent else None

    async def authorise(
        self, consent_id: str, *, customer_ref: str, psu_id: str, accounts: dict[str, str]
    ) -> bool:
        """Bind an awaiting consent to the customer and the accounts they selected."""
        async with self.db.begin() as conn:
            result = await conn.execute(
                consents.update()
                .where(
                    consents.c.id == consent_id,
                    consents.c.status == ConsentStatus.AWAITING_AUTHORISATION.value,
                )
                .values(
                    status=ConsentStatus.AUTHORISED.value,
                    customer_ref=customer_ref,
                    psu_id=psu_id,
                    accounts=accounts,
                    updated_at=datetime.now(UTC),
                )
            )
        return bool(result.rowcount)

    async def reject(self, consent_id: str) -> bool:
        async with self.db.begin() as conn:
            result = await conn.execute(
                consents.update()
                .where(
                    consents.c.id == consent_id,
                    consents.c.status == ConsentStatus.AWAITING_AUTHORISATION.value,
                )
                .values(status=ConsentStatus.REJECTED.value, updated_at=datetime.now(UTC))
            )
        return bool(result.rowcount)

    async def revoke(self, consent_id: str) -> Consent | None:
        """Revoke (idempotently); the consent's tokens stop working on every replica."""
        async with self.db.begin() as conn:
            row = (
                await conn.execute(
                    consents.select().where(consents.c.id == consent_id).with_for_update()
                )
            ).first()
            if row is None:
                return None
            consent = _row(row)
            if consent.status in (ConsentStatus.AUTHORISED, ConsentStatus.AWAITING_AUTHORISATION):
                stamp = datetime.now(UTC)
                await conn.execute(
                    consents.update()
                    .where(consents.c.id == consent_id)
                    .values(status=ConsentStatus.REVOKED.value, updated_at=stamp)
                )
                until = max(consent.expires_at or stamp, stamp) + timedelta(days=1)
                await self.oauth.revoke_consent_tokens(conn, consent_id, until)
        return await self.get(consent_id)

    async def list_for_partner(self, partner_id: str, limit: int = 50) -> list[Consent]:
        async with self.db.connect() as conn:
            rows = await conn.execute(
                consents.select()
                .where(consents.c.partner_id == partner_id)
                .order_by(sa.desc(consents.c.created_at))
                .limit(limit)
            )
            return [_row(r) for r in rows]
