"""The words partners, the gateway and its policies share: scopes, consents, permissions.

Every other module imports these; none spells them again.
"""

from __future__ import annotations

from enum import StrEnum

# Partner-level scopes (client credentials), customer-consented scopes (authorization code
# with a consent) and the bank's own operations scopes (DESIGN §3).
PARTNER_SCOPES = ("products", "consents", "collections", "events")
CUSTOMER_SCOPES = ("accounts", "payments", "deposits", "loans", "wealth")
OPS_SCOPES = ("ops:read", "ops:admin")
ALL_SCOPES = PARTNER_SCOPES + CUSTOMER_SCOPES + OPS_SCOPES


class ConsentType(StrEnum):
    ACCOUNT_ACCESS = "account_access"
    PAYMENT = "payment"
    DEPOSIT = "deposit"
    LOAN = "loan"
    WEALTH = "wealth"


class ConsentStatus(StrEnum):
    """`AwaitingAuthorisation → Authorised → (Consumed | Revoked | Expired)`, or `Rejected`."""

    AWAITING_AUTHORISATION = "AwaitingAuthorisation"
    AUTHORISED = "Authorised"
    REJECTED = "Rejected"
    CONSUMED = "Consumed"
    REVOKED = "Revoked"
    EXPIRED = "Expired"

    @property
    def is_live(self) -> bool:
        """Still able to become or stay usable (and so able to expire or be revoked)."""
        return self in (ConsentStatus.AWAITING_AUTHORISATION, ConsentStatus.AUTHORISED)


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
ALL_PERMISSIONS = frozenset(p for granted in PERMISSIONS.values() for p in granted)

SCOPE_OF_TYPE: dict[ConsentType, str] = {
    ConsentType.ACCOUNT_ACCESS: "accounts",
    ConsentType.PAYMENT: "payments",
    ConsentType.DEPOSIT: "deposits",
    ConsentType.LOAN: "loans",
    ConsentType.WEALTH: "wealth",
}

# Permissions that move funds need a second factor at authorization (DESIGN §3).
MOVES_FUNDS = frozenset({"InitiatePayments", "OpenDeposits", "ApplyLoans", "TradeWealth"})
