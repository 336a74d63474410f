"""Customer authentication: the port through which the bank's customers log in.

It is separate from the core banking contract: a bank authenticates its customers with its
own identity provider (an OpenID Connect provider, a mobile-banking login), not its core.
The sandbox's synthetic test customers are one implementation.
"""

from __future__ import annotations

from typing import Protocol

from adapters.contract import CoreContext, Customer


class CustomerAuthenticator(Protocol):
    """Authenticates a bank customer at the authorize step, with a second factor for funds."""

    name: str

    async def authenticate(self, ctx: CoreContext, username: str, password: str) -> Customer | None:
        """The customer if the credentials are theirs, else None (in constant time)."""
        ...

    async def verify_one_time_code(self, ctx: CoreContext, customer: Customer, code: str) -> bool:
        """True when `code` is the one-time code sent to the customer's registered phone."""
        ...

    async def find(self, ctx: CoreContext, username: str) -> Customer | None:
        """The customer with this login name (for a step that already authenticated them)."""
        ...
