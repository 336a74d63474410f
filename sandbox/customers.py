"""The sandbox's test customers as a customer-authentication provider.

Every partner's world has the same three customers (`zhang.wei`, `li.na`, `wang.fang`), with
password `sandbox` and one-time code `123456`. Production never uses this provider.
"""

from __future__ import annotations

import hmac

from adapters.contract import CoreContext, Customer
from sandbox.core import ONE_TIME_CODE, TEST_PASSWORD, SandboxCore
from sandbox.data import customer_ref


class SandboxCustomers:
    """Implements `adapters.identity.CustomerAuthenticator` over the sandbox bank's worlds."""

    name = "sandbox"

    def __init__(self, core: SandboxCore) -> None:
        self.core = core

    async def authenticate(self, ctx: CoreContext, username: str, password: str) -> Customer | None:
        """The test customer if `password` is theirs, else None; compared in constant time."""
        is_match = hmac.compare_digest(password.encode(), TEST_PASSWORD.encode())
        customer = await self.find(ctx, username)
        return customer if is_match and customer is not None else None

    async def verify_one_time_code(self, ctx: CoreContext, customer: Customer, code: str) -> bool:
        """True when `code` is the code every test customer's phone receives."""
        return hmac.compare_digest(code.encode(), ONE_TIME_CODE.encode())

    async def find(self, ctx: CoreContext, username: str) -> Customer | None:
        """The partner's test customer with this login name."""
        customers = self.core.world(ctx.partner_id).customers
        return customers.get(customer_ref(ctx.partner_id, username))
