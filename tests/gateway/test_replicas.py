"""Two replicas sharing one database agree on revocations within a second."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import Settings
from tests.factories import customer_grant, eventually_status, partner_token, sandbox_partner


@pytest.fixture
async def replicas(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    """Two gateway instances on the same database, keys and secret."""
    apps = [create_app(settings), create_app(settings)]
    async with apps[0].router.lifespan_context(apps[0]), apps[1].router.lifespan_context(apps[1]):
        clients = [
            httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url=settings.issuer)
            for a in apps
        ]
        try:
            yield tuple(clients)
        finally:
            for c in clients:
                await c.aclose()


class TestRevocationAcrossReplicas:
    async def test_revoked_token(self, replicas: tuple[httpx.AsyncClient, ...]) -> None:
        """A token revoked on replica A is refused on replica B within 1 s."""
        a, b = replicas
        partner = await sandbox_partner(a)
        token = await partner_token(a, partner, "products")
        headers = {"Authorization": f"Bearer {token}"}
        assert (await b.get("/v1/products/deposits", headers=headers)).status_code == 200
        revoke = await a.post("/oauth/revoke", data={"token": token}, auth=partner.basic)
        assert revoke.status_code == 200
        assert await eventually_status(b, "/v1/products/deposits", headers, 401, 1.0) < 1.0

    async def test_revoked_consent(self, replicas: tuple[httpx.AsyncClient, ...]) -> None:
        """A consent revoked through replica A stops its customer token on replica B."""
        a, b = replicas
        partner = await sandbox_partner(a)
        grant = await customer_grant(a, partner, dpop=False)
        headers = {"Authorization": f"Bearer {grant.access_token}"}
        assert (await b.get("/v1/accounts", headers=headers)).status_code == 200
        token = await partner_token(a, partner, "consents")
        await a.delete(
            f"/v1/consents/{grant.consent_id}", headers={"Authorization": f"Bearer {token}"}
        )
        assert await eventually_status(b, "/v1/accounts", headers, 401, 1.0) < 1.0
