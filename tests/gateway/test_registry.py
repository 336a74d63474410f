"""The partner registry and consent store on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI

from gateway.partners.models import RegistryError
from policies.vocabulary import ConsentStatus, ConsentType
from tests.factories import services_of


class TestRegistry:
    async def test_partner_and_secret_client(self, app: FastAPI) -> None:
        """A client secret is returned once and stored only as a hash."""
        registry = services_of(app).registry
        partner = await registry.create_partner("市第一医院", "hospital", "gold")
        issued = await registry.create_client(partner_id=partner.id, scopes=["products"])
        assert issued.client_secret
        stored = await registry.get_client(issued.client.client_id)
        assert stored is not None
        assert stored.secret_hash != issued.client_secret
        assert issued.client_secret not in str(stored)
        assert stored.check_secret(issued.client_secret)
        assert not stored.check_secret(issued.client_secret + "x")
        assert [p.id for p in await registry.list_partners()][-1] == partner.id

    @pytest.mark.parametrize(
        "bad",
        [
            {"scopes": ["nonsense"]},
            {"scopes": ["ops:admin"]},
            {"scopes": ["accounts"], "redirect_uris": ["http://evil.example/cb"]},
            {"scopes": ["products"], "jwks": {"keys": [{"kty": "oct", "k": "AAAA"}]}},
            {"scopes": ["products"], "jwks": {"keys": []}},
        ],
    )
    async def test_refuses_bad_clients(self, app: FastAPI, bad: dict[str, object]) -> None:
        """Unknown scopes, ops scopes, non-https redirects and symmetric keys are refused."""
        registry = services_of(app).registry
        partner = await registry.create_partner("P", "other")
        with pytest.raises(RegistryError):
            await registry.create_client(partner_id=partner.id, **bad)  # type: ignore[arg-type]

    async def test_unknown_sector(self, app: FastAPI) -> None:
        """A sector outside the five is refused."""
        with pytest.raises(ValueError, match="Sector"):
            await services_of(app).registry.create_partner("P", "casino")


class TestConsentStore:
    async def test_lifecycle(self, app: FastAPI) -> None:
        """Awaiting → Authorised (bound to customer and accounts) → Revoked."""
        services = services_of(app)
        store = services.consents
        created = await store.create(
            partner_id="ptn_x",
            client_id="cli_x",
            type=ConsentType.ACCOUNT_ACCESS,
            permissions=["ReadBalances"],
            expires_at=None,
        )
        assert created.status is ConsentStatus.AWAITING_AUTHORISATION
        async with services.db.transaction() as uow:
            assert await store.store.authorise(
                uow.conn,
                created.id,
                customer_ref="c/1",
                psu_id="psu_a",
                accounts={"acc_a": "core/1"},
            )
            assert not await store.store.authorise(
                uow.conn, created.id, customer_ref="c/2", psu_id="psu_b", accounts={}
            )
        view = await store.consent_view(created.id)
        assert view is not None
        assert view.status == "Authorised"
        assert dict(view.accounts) == {"acc_a": "core/1"}
        revoked = await store.revoke(created.id)
        assert revoked is not None
        assert revoked.status is ConsentStatus.REVOKED
        assert services.revocation_list.is_revoked("consent", created.id)

    async def test_expiry_is_reported(self, app: FastAPI) -> None:
        """A consent past its expiry reads as Expired."""
        store = services_of(app).consents
        soon = datetime.now(UTC) + timedelta(milliseconds=50)
        created = await store.create(
            partner_id="ptn_x",
            client_id="cli_x",
            type=ConsentType.ACCOUNT_ACCESS,
            permissions=["ReadBalances"],
            expires_at=soon,
        )
        import asyncio

        await asyncio.sleep(0.1)
        fetched = await store.get(created.id)
        assert fetched is not None
        assert fetched.status is ConsentStatus.EXPIRED
        assert fetched.expires_at is not None
        assert fetched.expires_at.tzinfo is not None
