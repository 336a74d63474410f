"""Consents that reach their expiry end as `Expired`, with their tokens and an event."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from gateway.clock import utcnow
from gateway.settings import Settings
from tests.factories import (
    CustomerGrant,
    Partner,
    consent,
    customer_get,
    customer_grant,
    dpop_proof,
    partner_token,
    replicas,
    sandbox_partner,
    services_of,
)


async def consent_status(client: httpx.AsyncClient, partner: Partner, consent_id: str) -> str:
    token = await partner_token(client, partner, "consents")
    shown = await client.get(
        f"/v1/consents/{consent_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert shown.status_code == 200, shown.text
    return str(shown.json()["status"])


async def expiry_of(app: FastAPI, consent_id: str) -> datetime:
    found = await services_of(app).consents.get(consent_id)
    assert found is not None
    assert found.expires_at is not None
    return found.expires_at


async def partner_events(client: httpx.AsyncClient, partner: Partner) -> list[dict[str, Any]]:
    token = await partner_token(client, partner, "events")
    response = await client.get(
        "/v1/events", params={"page_size": 200}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def refresh(client: httpx.AsyncClient, partner: Partner, grant: CustomerGrant) -> int:
    assert grant.dpop_key is not None
    response = await client.post(
        "/oauth/token",
        auth=partner.basic,
        data={"grant_type": "refresh_token", "refresh_token": grant.refresh_token},
        headers={"DPoP": dpop_proof(grant.dpop_key, "POST", f"{client.base_url}/oauth/token")},
    )
    return response.status_code


class TestConsentExpiry:
    async def test_due_consent_expires_with_its_tokens_and_an_event(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """A consent past its expiry becomes Expired: its access and refresh tokens stop, and
        one `consent.expired` event says when it expired."""
        partner = await sandbox_partner(client)
        grant = await customer_grant(client, partner)
        assert (await customer_get(client, grant, "/v1/accounts")).status_code == 200
        expires_at = await expiry_of(app, grant.consent_id)
        consents = services_of(app).consents
        expired = await consents.expire_due(expires_at, partner_id=partner.partner_id)
        assert expired == 1
        assert await consent_status(client, partner, grant.consent_id) == "Expired"
        denied = await customer_get(client, grant, "/v1/accounts")
        assert denied.status_code == 401, denied.text
        assert denied.json()["code"] == "consent-expired"  # ask the customer again
        assert "CNY" not in denied.text
        assert await refresh(client, partner, grant) == 400
        [event] = await partner_events(client, partner)
        assert event["type"] == "consent.expired"
        assert event["data"] == {"consent_id": grant.consent_id, "status": "Expired"}
        assert datetime.fromisoformat(event["occurred_at"]) == expires_at
        again = await consents.expire_due(expires_at + timedelta(days=1), partner.partner_id)
        assert again == 0
        assert len(await partner_events(client, partner)) == 1

    async def test_consent_not_yet_due_is_untouched(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """A consent whose expiry is still ahead stays Authorised and keeps working."""
        partner = await sandbox_partner(client)
        grant = await customer_grant(client, partner)
        expires_at = await expiry_of(app, grant.consent_id)
        consents = services_of(app).consents
        before = expires_at - timedelta(seconds=1)
        assert await consents.expire_due(before, partner_id=partner.partner_id) == 0
        assert await consent_status(client, partner, grant.consent_id) == "Authorised"
        assert (await customer_get(client, grant, "/v1/accounts")).status_code == 200
        assert await refresh(client, partner, grant) == 200
        assert await partner_events(client, partner) == []

    async def test_awaiting_consents_expire_too(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """A consent never authorised expires as well; an ended one (revoked) does not."""
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "consents")
        waiting = await consent(client, token)
        revoked = await consent(client, token)
        auth = {"Authorization": f"Bearer {token}"}
        assert (await client.delete(f"/v1/consents/{revoked}", headers=auth)).status_code == 204
        later = utcnow() + timedelta(days=400)
        assert await services_of(app).consents.expire_due(later, partner.partner_id) == 1
        assert await consent_status(client, partner, waiting) == "Expired"
        assert await consent_status(client, partner, revoked) == "Revoked"
        assert [e["type"] for e in await partner_events(client, partner)] == [
            "consent.revoked",
            "consent.expired",
        ]

    async def test_one_partners_clock_expires_only_its_consents(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """Expiring with one partner's time leaves other partners' consents alone."""
        school = await sandbox_partner(client)
        hospital = await sandbox_partner(client, "市医院")
        ours = await consent(client, await partner_token(client, school, "consents"))
        theirs = await consent(client, await partner_token(client, hospital, "consents"))
        later = utcnow() + timedelta(days=400)
        assert await services_of(app).consents.expire_due(later, school.partner_id) == 1
        assert await consent_status(client, school, ours) == "Expired"
        assert await consent_status(client, hospital, theirs) == "AwaitingAuthorisation"
        assert await partner_events(client, hospital) == []

    async def test_replicas_expire_each_consent_once(self, settings: Settings) -> None:
        """Two replicas expiring at once end every consent exactly once, one event each."""
        async with replicas(settings, 2) as running:
            (first_app, first), (second_app, _) = running
            partner = await sandbox_partner(first)
            token = await partner_token(first, partner, "consents")
            created = [await consent(first, token) for _ in range(230)]
            later = utcnow() + timedelta(days=400)
            counts = await asyncio.gather(
                services_of(first_app).consents.expire_due(later, partner.partner_id),
                services_of(second_app).consents.expire_due(later, partner.partner_id),
            )
            assert sum(counts) == len(created)
            events_token = await partner_token(first, partner, "events")
            seen: list[str] = []
            params: dict[str, str | int] = {"page_size": 200}
            while True:
                page = (
                    await first.get(
                        "/v1/events",
                        params=params,
                        headers={"Authorization": f"Bearer {events_token}"},
                    )
                ).json()
                seen += [e["data"]["consent_id"] for e in page["data"]]
                if page["next_cursor"] is None:
                    break
                params["after"] = page["next_cursor"]
            assert sorted(seen) == sorted(created)

    async def test_housekeeping_expires_due_consents(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """The gateway's periodic due work expires consents as their time comes."""
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "consents")
        soon = (utcnow() + timedelta(seconds=1)).isoformat()
        short = await consent(client, token, expires_at=soon)
        lasting = await consent(client, token)
        await asyncio.sleep(1.1)
        done = await app.state.settler.run_once()
        assert done["due_work"] >= 1
        assert await consent_status(client, partner, short) == "Expired"
        assert await consent_status(client, partner, lasting) == "AwaitingAuthorisation"
