"""Customer authentication: the port through which the bank's customers log in.

It is separate from the core banking contract: a bank authenticates its customers with its
own identity provider (an OpenID Connect provider, a mobile-banking login), not its core.
The sandbox's synthetic test customers are one implementation.

A consent that moves funds needs a one-time code bound to what the customer approves
(PSD2 RTS art. 5, dynamic linking): the provider is told the `ConsentTerms` when it sends
the code, and a code entered against other terms, or for another challenge, must fail.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Protocol

from adapters.contract import CoreContext, Customer


@dataclass(frozen=True, slots=True)
class ConsentTerms:
    """What the customer is asked to approve: the consent, its permissions and, for a
    payment, the amount, the creditor and the reference."""

    consent_id: str
    permissions: tuple[str, ...]
    amount: str | None = None
    currency: str | None = None
    creditor_name: str | None = None
    creditor_account: str | None = None
    reference: str | None = None

    def digest(self) -> str:
        """SHA-256 (hex) of the terms in canonical JSON: equal terms, equal digests."""
        canonical = json.dumps(
            asdict(self), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CodeChallenge:
    """One one-time code sent to a customer for one set of terms.

    The gateway carries it between the steps of the authorize pages and hands it back at
    verification. `binding` is the provider's own: a provider that keeps its challenges
    server-side may leave it empty.
    """

    id: str
    terms_digest: str
    binding: str = ""


class CustomerAuthenticator(Protocol):
    """Authenticates a bank customer at the authorize step, with a second factor for funds."""

    name: str

    async def authenticate(self, ctx: CoreContext, username: str, password: str) -> Customer | None:
        """The customer if the credentials are theirs, else None (in constant time)."""
        ...

    async def send_one_time_code(
        self, ctx: CoreContext, customer: Customer, terms: ConsentTerms
    ) -> CodeChallenge:
        """Send the customer a one-time code for `terms` (the message names them)."""
        ...

    async def verify_one_time_code(
        self,
        ctx: CoreContext,
        customer: Customer,
        challenge: CodeChallenge,
        terms: ConsentTerms,
        code: str,
    ) -> bool:
        """True only when `code` answers `challenge`, which was sent to this customer for
        exactly these `terms`."""
        ...

    async def find(self, ctx: CoreContext, username: str) -> Customer | None:
        """The customer with this login name (for a step that already authenticated them)."""
        ...
