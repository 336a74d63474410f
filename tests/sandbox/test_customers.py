"""The sandbox's test customers as a customer-authentication provider, with codes bound to
the consent terms they were sent for (dynamic linking)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from adapters.contract import CoreContext, Customer
from adapters.identity import ConsentTerms
from sandbox.core import SandboxCore
from sandbox.customers import SandboxCustomers
from sandbox.data import customer_ref

NOW = datetime(2025, 5, 11, 3, 30, tzinfo=UTC)
PARTNER = "ptn_alpha"
TERMS = ConsentTerms(
    consent_id="cns_one",
    permissions=("InitiatePayments",),
    amount="120.00",
    currency="CNY",
    creditor_name="市医院",
    creditor_account="6222020200112233445",
    reference="Bill 42",
)


@pytest.fixture
def customers() -> SandboxCustomers:
    return SandboxCustomers(SandboxCore(clock=lambda _partner_id: NOW), key=b"k" * 32)


@pytest.fixture
def ctx() -> CoreContext:
    return CoreContext(partner_id=PARTNER)


async def customer(customers: SandboxCustomers, ctx: CoreContext, username: str) -> Customer:
    found = await customers.find(ctx, username)
    assert found is not None
    return found


class TestSandboxLogin:
    async def test_password(self, customers: SandboxCustomers, ctx: CoreContext) -> None:
        """Test customers log in with password "sandbox"; anything else is refused."""
        found = await customers.authenticate(ctx, "li.na", "sandbox")
        assert found is not None
        assert found.core_ref == customer_ref(PARTNER, "li.na")
        assert await customers.authenticate(ctx, "li.na", "Sandbox") is None
        assert await customers.authenticate(ctx, "nobody", "sandbox") is None


class TestSandboxOneTimeCode:
    async def test_code_answers_its_challenge(
        self, customers: SandboxCustomers, ctx: CoreContext
    ) -> None:
        """123456 answers a challenge sent for this customer and terms; another code does not."""
        wang = await customer(customers, ctx, "wang.fang")
        challenge = await customers.send_one_time_code(ctx, wang, TERMS)
        assert challenge.terms_digest == TERMS.digest()
        assert await customers.verify_one_time_code(ctx, wang, challenge, TERMS, "123456")
        assert not await customers.verify_one_time_code(ctx, wang, challenge, TERMS, "654321")

    @pytest.mark.parametrize(
        "change",
        [
            {"amount": "1200.00"},
            {"currency": "USD"},
            {"creditor_name": "某公司"},
            {"creditor_account": "6222020200112233446"},
            {"reference": "Bill 43"},
            {"consent_id": "cns_two"},
            {"permissions": ("InitiatePayments", "ReadBalances")},
        ],
    )
    async def test_code_fails_against_changed_terms(
        self, customers: SandboxCustomers, ctx: CoreContext, change: dict[str, object]
    ) -> None:
        """The right code entered against terms other than those it was sent for fails."""
        wang = await customer(customers, ctx, "wang.fang")
        challenge = await customers.send_one_time_code(ctx, wang, TERMS)
        changed = dataclasses.replace(TERMS, **change)  # type: ignore[arg-type]
        assert changed.digest() != TERMS.digest()
        assert await customers.verify_one_time_code(ctx, wang, challenge, TERMS, "123456")
        assert not await customers.verify_one_time_code(ctx, wang, challenge, changed, "123456")

    async def test_code_fails_for_another_challenge(
        self, customers: SandboxCustomers, ctx: CoreContext
    ) -> None:
        """A challenge whose id, terms or binding was altered, or that was issued by another
        key or for another customer, is not answered by the code."""
        wang = await customer(customers, ctx, "wang.fang")
        li = await customer(customers, ctx, "li.na")
        challenge = await customers.send_one_time_code(ctx, wang, TERMS)
        other_key = SandboxCustomers(customers.core, key=b"o" * 32)
        flipped = challenge.binding[:-1] + ("1" if challenge.binding[-1] == "0" else "0")
        forged = [
            dataclasses.replace(challenge, id=challenge.id + "x"),
            dataclasses.replace(challenge, binding=flipped),
            dataclasses.replace(challenge, terms_digest="0" * 64),
            await other_key.send_one_time_code(ctx, wang, TERMS),
            await customers.send_one_time_code(ctx, li, TERMS),
        ]
        assert await customers.verify_one_time_code(ctx, wang, challenge, TERMS, "123456")
        for altered in forged:
            assert not await customers.verify_one_time_code(ctx, wang, altered, TERMS, "123456")


class TestConsentTerms:
    def test_digest_is_canonical(self) -> None:
        """Equal terms give equal digests; any field changes the digest."""
        assert TERMS.digest() == dataclasses.replace(TERMS).digest()
        assert TERMS.digest() != dataclasses.replace(TERMS, reference="Bill 42 ").digest()
        assert len(TERMS.digest()) == 64
