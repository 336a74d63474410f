"""Units of work: a change, its revocation entry and its outbox event commit together or not
at all, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from gateway.storage.database import Database
from gateway.storage.tables import events, revocations
from tests.factories import (
    customer_grant,
    customer_headers,
    dpop_proof,
    partner_token,
    sandbox_partner,
    services_of,
)


async def break_outbox(db: Database) -> None:
    """Make every insert into the outbox fail inside the database (a trigger)."""
    async with db.transaction() as uow:
        if db.is_sqlite:
            await uow.conn.execute(
                sa.text(
                    "CREATE TRIGGER outbox_down BEFORE INSERT ON events "
                    "BEGIN SELECT RAISE(ABORT, 'outbox unavailable'); END"
                )
            )
        else:
            await uow.conn.execute(
                sa.text(
                    "CREATE OR REPLACE FUNCTION outbox_down() RETURNS trigger AS $$ "
                    "BEGIN RAISE EXCEPTION 'outbox unavailable'; END $$ LANGUAGE plpgsql"
                )
            )
            await uow.conn.execute(
                sa.text(
                    "CREATE TRIGGER outbox_down BEFORE INSERT ON events "
                    "FOR EACH ROW EXECUTE FUNCTION outbox_down()"
                )
            )


async def mend_outbox(db: Database) -> None:
    async with db.transaction() as uow:
        await uow.conn.execute(
            sa.text("DROP TRIGGER outbox_down" + ("" if db.is_sqlite else " ON events"))
        )


class TestConsentRevocation:
    async def test_revocation_writes_its_event_in_the_same_transaction(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """Positive control: revoking writes the consent's status and one consent.revoked event."""
        partner = await sandbox_partner(client)
        grant = await customer_grant(client, partner)
        token = await partner_token(client, partner, "consents")
        auth = {"Authorization": f"Bearer {token}"}
        assert (
            await client.delete(f"/v1/consents/{grant.consent_id}", headers=auth)
        ).status_code == 204
        db = services_of(app).db
        async with db.read() as conn:
            rows = (
                await conn.execute(events.select().where(events.c.partner_id == partner.partner_id))
            ).all()
        assert [(r.type, r.data["consent_id"]) for r in rows] == [
            ("consent.revoked", grant.consent_id)
        ]
        consent = (await client.get(f"/v1/consents/{grant.consent_id}", headers=auth)).json()
        assert consent["status"] == "Revoked"

    async def test_failed_outbox_insert_leaves_no_change(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """When the event cannot be written, the consent stays Authorised, its token keeps
        working, no revocation entry exists, and the partner gets a 500 with the request id."""
        partner = await sandbox_partner(client)
        grant = await customer_grant(client, partner)
        token = await partner_token(client, partner, "consents")
        auth = {"Authorization": f"Bearer {token}"}
        db = services_of(app).db
        await break_outbox(db)
        try:
            refused = await client.delete(
                f"/v1/consents/{grant.consent_id}", headers={**auth, "X-Request-ID": "uow-1"}
            )
        finally:
            await mend_outbox(db)
        assert refused.status_code == 500
        assert refused.json()["instance"] == "uow-1"
        assert "outbox" not in refused.text
        consent = (await client.get(f"/v1/consents/{grant.consent_id}", headers=auth)).json()
        assert consent["status"] == "Authorised"
        async with db.read() as conn:
            entries = (
                await conn.execute(
                    revocations.select().where(revocations.c.value == grant.consent_id)
                )
            ).all()
            written = (
                await conn.execute(events.select().where(events.c.partner_id == partner.partner_id))
            ).all()
        assert entries == []
        assert written == []
        assert not services_of(app).revocation_list.is_revoked("consent", grant.consent_id)
        accounts = await client.get(
            "/v1/accounts", headers=customer_headers(client, grant, "GET", "/v1/accounts")
        )
        assert accounts.status_code == 200
        refreshed = await client.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": grant.refresh_token},
            auth=partner.basic,
            headers={"DPoP": dpop_proof(grant.dpop_key, "POST", f"{client.base_url}/oauth/token")},
        )
        assert refreshed.status_code == 200, refreshed.text
