"""The sandbox's test customers as a customer-authentication provider.

Every partner's world has the same three customers (`zhang.wei`, `li.na`, `wang.fang`), with
password `sandbox` and one-time code `123456`. The code is the same every time, but it only
answers a challenge this provider issued for that customer and those consent terms, so the
sandbox behaves like a provider with dynamic linking. Production never uses this provider.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from adapters.contract import CoreContext, Customer
from adapters.identity import CodeChallenge, ConsentTerms
from sandbox.core import ONE_TIME_CODE, TEST_PASSWORD, SandboxCore
from sandbox.data import customer_ref


class SandboxCustomers:
    """Implements `adapters.identity.CustomerAuthenticator` over the sandbox bank's worlds.

    `key` seals the challenges it issues; every replica must be given the same key.
    """

    name = "sandbox"

    def __init__(self, core: SandboxCore, key: bytes) -> None:
        self.core = core
        self.key = key

    async def authenticate(self, ctx: CoreContext, username: str, password: str) -> Customer | None:
        """The test customer if `password` is theirs, else None; compared in constant time."""
        is_match = hmac.compare_digest(password.encode(), TEST_PASSWORD.encode())
        customer = await self.find(ctx, username)
        return customer if is_match and customer is not None else None

    async def send_one_time_code(
        self, ctx: CoreContext, customer: Customer, terms: ConsentTerms
    ) -> CodeChallenge:
        """A challenge sealed to the customer and the terms (no text message is sent)."""
        challenge_id = secrets.token_urlsafe(16)
        digest = terms.digest()
        return CodeChallenge(challenge_id, digest, self._seal(challenge_id, customer, digest))

    async def verify_one_time_code(
        self,
        ctx: CoreContext,
        customer: Customer,
        challenge: CodeChallenge,
        terms: ConsentTerms,
        code: str,
    ) -> bool:
        """True when `code` is the test code and `challenge` is ours, for this customer and
        exactly these terms."""
        digest = terms.digest()
        expected = self._seal(challenge.id, customer, digest)
        is_bound = hmac.compare_digest(challenge.binding.encode(), expected.encode())
        is_same_terms = hmac.compare_digest(challenge.terms_digest.encode(), digest.encode())
        is_code = hmac.compare_digest(code.encode(), ONE_TIME_CODE.encode())
        return is_bound and is_same_terms and is_code

    async def find(self, ctx: CoreContext, username: str) -> Customer | None:
        """The partner's test customer with this login name."""
        customers = (await self.core.load(ctx.partner_id)).customers
        return customers.get(customer_ref(ctx.partner_id, username))

    def _seal(self, challenge_id: str, customer: Customer, digest: str) -> str:
        message = f"{challenge_id}|{customer.core_ref}|{digest}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()
