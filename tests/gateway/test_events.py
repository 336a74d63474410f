"""The pull feed of a partner's events at GET /v1/events."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.events.outbox import Event, EventType
from tests.factories import Partner, consent, partner_token, sandbox_partner, services_of


async def revoked_consents(client: httpx.AsyncClient, partner: Partner, count: int) -> list[str]:
    """`count` consents of the partner, each revoked (one `consent.revoked` event each)."""
    token = await partner_token(client, partner, "consents")
    auth = {"Authorization": f"Bearer {token}"}
    ids = []
    for _ in range(count):
        consent_id = await consent(client, token)
        revoked = await client.delete(f"/v1/consents/{consent_id}", headers=auth)
        assert revoked.status_code == 204, revoked.text
        ids.append(consent_id)
    return ids


async def events(client: httpx.AsyncClient, token: str, **params: str | int) -> httpx.Response:
    return await client.get(
        "/v1/events", params=params, headers={"Authorization": f"Bearer {token}"}
    )


async def every_event(client: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    """The whole feed, walked page by page."""
    found: list[dict[str, Any]] = []
    params: dict[str, str | int] = {"page_size": 2}
    while True:
        response = await events(client, token, **params)
        assert response.status_code == 200, response.text
        page = response.json()
        found += page["data"]
        if page["next_cursor"] is None:
            return found
        params["after"] = page["next_cursor"]


class TestEventFeed:
    async def test_events_oldest_first(self, client: httpx.AsyncClient) -> None:
        """Each revocation is one `consent.revoked` event, listed in the order they happened,
        and the answer is never stored."""
        partner = await sandbox_partner(client)
        revoked = await revoked_consents(client, partner, 3)
        token = await partner_token(client, partner, "events")
        response = await events(client, token)
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert body["next_cursor"] is None
        assert [e["data"] for e in body["data"]] == [
            {"consent_id": c, "status": "Revoked"} for c in revoked
        ]
        for event in body["data"]:
            assert set(event) == {"event_id", "type", "occurred_at", "data"}
            assert event["event_id"].startswith("evt_")
            assert event["type"] == "consent.revoked"
            assert event["occurred_at"].endswith("Z")

    async def test_next_cursor_is_the_next_after(self, client: httpx.AsyncClient) -> None:
        """A full page's next_cursor is its last event id, and passing it as `after` gives the
        events that follow, each once; the last page's next_cursor is null."""
        partner = await sandbox_partner(client)
        revoked = await revoked_consents(client, partner, 5)
        token = await partner_token(client, partner, "events")
        first = (await events(client, token, page_size=2)).json()
        assert first["next_cursor"] == first["data"][-1]["event_id"]
        walked = await every_event(client, token)
        assert [e["data"]["consent_id"] for e in walked] == revoked
        assert len({e["event_id"] for e in walked}) == 5
        last = walked[-1]["event_id"]
        assert (await events(client, token, after=last)).json() == {
            "data": [],
            "next_cursor": None,
        }

    async def test_unknown_after_is_a_bad_request(self, client: httpx.AsyncClient) -> None:
        """An `after` that names no event is a 400 naming `after`; a known one answers."""
        partner = await sandbox_partner(client)
        await revoked_consents(client, partner, 2)
        token = await partner_token(client, partner, "events")
        refused = await events(client, token, after="evt_" + "a" * 20)
        assert refused.status_code == 400, refused.text
        assert refused.json()["code"] == "invalid-request"
        assert [e["path"] for e in refused.json()["errors"]] == ["query.after"]
        malformed = await events(client, token, after="cns_abc")
        assert malformed.status_code == 422, malformed.text
        assert [e["path"] for e in malformed.json()["errors"]] == ["query.after"]
        known = (await events(client, token)).json()["data"][0]["event_id"]
        control = await events(client, token, after=known)
        assert control.status_code == 200, control.text
        assert len(control.json()["data"]) == 1

    async def test_another_partners_events_are_never_listed(
        self, client: httpx.AsyncClient
    ) -> None:
        """A partner reads only its own events, and cannot page from another's event id."""
        school = await sandbox_partner(client)
        hospital = await sandbox_partner(client, "市医院")
        ours = await revoked_consents(client, school, 2)
        theirs = await revoked_consents(client, hospital, 2)
        school_token = await partner_token(client, school, "events")
        hospital_token = await partner_token(client, hospital, "events")
        listed = await every_event(client, school_token)
        assert [e["data"]["consent_id"] for e in listed] == ours
        foreign = (await every_event(client, hospital_token))[0]["event_id"]
        assert [e["data"]["consent_id"] for e in await every_event(client, hospital_token)] == (
            theirs
        )
        refused = await events(client, school_token, after=foreign)
        assert refused.status_code == 400, refused.text
        for consent_id in theirs:
            assert consent_id not in refused.text
        control = await events(client, school_token, after=listed[0]["event_id"])
        assert [e["data"]["consent_id"] for e in control.json()["data"]] == ours[1:]

    async def test_token_without_events_scope_is_forbidden(self, client: httpx.AsyncClient) -> None:
        """A partner token without the `events` scope is a 403 insufficient-scope."""
        partner = await sandbox_partner(client)
        await revoked_consents(client, partner, 1)
        token = await partner_token(client, partner, "consents")
        refused = await events(client, token)
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "insufficient-scope"
        assert "evt_" not in refused.text
        control = await events(client, await partner_token(client, partner, "events"))
        assert len(control.json()["data"]) == 1


@pytest.mark.parametrize("backend", ["postgresql"])
class TestEventsCommittedOutOfOrder:
    async def test_an_event_committed_late_is_not_skipped(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """An event numbered before one already committed is listed before it, once its
        transaction commits: the feed never passes an event still being written."""
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "events")
        services = services_of(app)

        def event(name: str) -> Event:
            return Event(partner.partner_id, EventType.CONSENT_REVOKED, {"consent_id": name})

        async with services.db.transaction() as slow:
            await services.outbox.add(slow.conn, event("first"))
            async with services.db.transaction() as quick:
                await services.outbox.add(quick.conn, event("second"))
            meanwhile = await events(client, token)
            assert meanwhile.status_code == 200, meanwhile.text
            assert meanwhile.json() == {"data": [], "next_cursor": None}
        listed = (await events(client, token)).json()["data"]
        assert [e["data"]["consent_id"] for e in listed] == ["first", "second"]
