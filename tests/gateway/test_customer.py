"""The consenting customer at GET /v1/customer."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.factories import customer_get, customer_grant, sandbox_partner, services_of


class TestCustomer:
    async def test_family_name_only_without_read_party_detail(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """ReadParty shows the pairwise id, the family name, the risk tolerance and the KYC
        status; ReadPartyDetail shows the full name."""
        partner = await sandbox_partner(client)
        party = await customer_grant(client, partner, permissions=["ReadParty"])
        detail = await customer_grant(client, partner, permissions=["ReadPartyDetail"])
        brief = await customer_get(client, party, "/v1/customer")
        assert brief.status_code == 200, brief.text
        assert brief.headers["cache-control"] == "no-store"
        full = (await customer_get(client, detail, "/v1/customer")).json()
        consent = await services_of(app).consents.get(party.consent_id)
        assert consent is not None
        assert brief.json() == {
            "customer_id": consent.psu_id,
            "name": "张",
            "risk_tolerance": "C3",
            "kyc_status": "Verified",
        }
        assert full == {**brief.json(), "name": "张伟"}

    async def test_nothing_the_core_identifies_the_customer_by(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """The answer never holds the core's customer reference, ID number or mobile."""
        partner = await sandbox_partner(client)
        grant = await customer_grant(client, partner, permissions=["ReadPartyDetail"])
        response = await customer_get(client, grant, "/v1/customer")
        assert response.status_code == 200, response.text
        consent = await services_of(app).consents.get(grant.consent_id)
        assert consent is not None
        assert consent.customer_ref is not None
        core = services_of(app).core
        customer = await core.customers.get_customer(
            core.context(partner.partner_id), consent.customer_ref
        )
        for secret in (customer.core_ref, customer.id_number, customer.mobile):
            assert secret
            assert secret not in response.text

    async def test_pairwise_per_partner(self, client: httpx.AsyncClient) -> None:
        """Two partners see the same customer under different ids."""
        school = await customer_grant(
            client, await sandbox_partner(client), permissions=["ReadParty"]
        )
        hospital = await customer_grant(
            client, await sandbox_partner(client, "市医院"), permissions=["ReadParty"]
        )
        ours = (await customer_get(client, school, "/v1/customer")).json()
        theirs = (await customer_get(client, hospital, "/v1/customer")).json()
        assert ours["customer_id"].startswith("psu_")
        assert theirs["customer_id"].startswith("psu_")
        assert ours["customer_id"] != theirs["customer_id"]
        assert {**ours, "customer_id": ""} == {**theirs, "customer_id": ""}

    async def test_each_consent_shows_its_own_customer(self, client: httpx.AsyncClient) -> None:
        """A consent shows the customer who authorised it, never another of the partner's."""
        partner = await sandbox_partner(client)
        zhang = await customer_grant(client, partner, permissions=["ReadPartyDetail"])
        li = await customer_grant(
            client, partner, customer="li.na", permissions=["ReadPartyDetail"]
        )
        first = (await customer_get(client, zhang, "/v1/customer")).json()
        second = (await customer_get(client, li, "/v1/customer")).json()
        assert (first["name"], first["risk_tolerance"]) == ("张伟", "C3")
        assert (second["name"], second["risk_tolerance"]) == ("李娜", "C1")
        assert first["customer_id"] != second["customer_id"]

    async def test_consent_without_party_permission_is_forbidden(
        self, client: httpx.AsyncClient
    ) -> None:
        """A consent granting neither ReadParty nor ReadPartyDetail is a 403, without data."""
        partner = await sandbox_partner(client)
        grant = await customer_grant(client, partner, permissions=["ReadAccountsDetail"])
        refused = await customer_get(client, grant, "/v1/customer")
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "consent-insufficient"
        assert "ReadParty" in refused.json()["detail"]
        assert "psu_" not in refused.text
        assert "张" not in refused.text
        control = await customer_grant(client, partner, permissions=["ReadParty"])
        assert (await customer_get(client, control, "/v1/customer")).status_code == 200
