"""Client credentials with an independent OAuth client (authlib's httpx client)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from fastapi import FastAPI
from requests_oauth2client import DPoPKey

from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import make_settings
from tests.factories import (
    client_assertion,
    dpop_proof,
    eventually_status,
    key_client,
    partner_token,
    sandbox_partner,
    services_of,
)


def oauth_client(http: httpx.AsyncClient, **kwargs: object) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(transport=http._transport, base_url=http.base_url, **kwargs)


class TestClientSecretBasic:
    async def test_token_then_products(self, client: httpx.AsyncClient) -> None:
        """client_secret_basic yields a bearer token that reads the deposit products."""
        partner = await sandbox_partner(client)
        async with oauth_client(
            client,
            client_id=partner.client_id,
            client_secret=partner.client_secret,
            token_endpoint_auth_method="client_secret_basic",
            scope="products",
        ) as oauth:
            token = await oauth.fetch_token(
                f"{client.base_url}/oauth/token", grant_type="client_credentials"
            )
            assert token["token_type"] == "Bearer"
            assert token["scope"] == "products"
            assert "refresh_token" not in token
            response = await oauth.get("/v1/products/deposits")
        assert response.status_code == 200
        products = response.json()["data"]
        assert {p["term_months"] for p in products} >= {3, 12}
        assert all(p["product_id"].startswith("prd_") for p in products)

    async def test_wrong_secret(self, client: httpx.AsyncClient) -> None:
        """A wrong secret is invalid_client (401) and issues nothing."""
        partner = await sandbox_partner(client)
        response = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(partner.client_id, "not-the-secret"),
        )
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert "access_token" not in response.text

    async def test_customer_scope_refused(self, client: httpx.AsyncClient) -> None:
        """Client credentials cannot obtain a customer scope such as 'accounts'."""
        partner = await sandbox_partner(client)
        response = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "scope": "accounts"},
            auth=partner.basic,
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_scope"

    async def test_unknown_grant_type(self, client: httpx.AsyncClient) -> None:
        """An unknown grant type is unsupported_grant_type, never a 500."""
        partner = await sandbox_partner(client)
        response = await client.post(
            "/oauth/token", data={"grant_type": "password"}, auth=partner.basic
        )
        assert response.status_code == 400
        assert response.json()["error"] == "unsupported_grant_type"

    async def test_suspended_partner(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        """A suspended partner's tokens stop within a second and it gets no new ones."""
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "products")
        assert await services_of(app).registry.suspend_partner(partner.partner_id)
        headers = {"Authorization": f"Bearer {token}"}
        assert await eventually_status(client, "/v1/products/deposits", headers, 401, 1.0) < 1.0
        response = await client.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=partner.basic
        )
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"

    async def test_revoked_client(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        """A revoked client gets no token, and the token it already had stops working."""
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "products")
        assert await services_of(app).registry.revoke_client(partner.client_id)
        again = await client.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=partner.basic
        )
        assert again.status_code == 401
        headers = {"Authorization": f"Bearer {token}"}
        assert await eventually_status(client, "/v1/products/deposits", headers, 401, 1.0) < 1.0


class TestPrivateKeyJwtWithDPoP:
    async def test_dpop_bound_token_reads_products(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """private_key_jwt + DPoP gives a DPoP token usable only with proofs of that key."""
        partner = await sandbox_partner(client)
        kc = await key_client(app, partner.partner_id, ["products"])
        issuer = str(client.base_url)
        dpop_key = DPoPKey.generate(alg="ES256")
        auth_method = PrivateKeyJWT(issuer, alg="ES256")
        async with oauth_client(
            client,
            client_id=kc.client_id,
            client_secret=kc.key,
            token_endpoint_auth_method=auth_method,
            scope="products",
        ) as oauth:
            oauth.register_client_auth_method(auth_method)
            token = await oauth.fetch_token(
                f"{issuer}/oauth/token",
                grant_type="client_credentials",
                headers={"DPoP": dpop_proof(dpop_key, "POST", f"{issuer}/oauth/token")},
            )
        assert token["token_type"] == "DPoP"
        access = token["access_token"]
        url = f"{issuer}/v1/products/deposits"
        ok = await client.get(
            url,
            headers={
                "Authorization": f"DPoP {access}",
                "DPoP": dpop_proof(dpop_key, "GET", url, access),
            },
        )
        assert ok.status_code == 200, ok.text
        as_bearer = await client.get(url, headers={"Authorization": f"Bearer {access}"})
        assert as_bearer.status_code == 401

    async def test_replayed_assertion(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        """A client assertion is single use: its jti cannot be replayed."""
        partner = await sandbox_partner(client)
        kc = await key_client(app, partner.partner_id, ["products"])
        assertion = client_assertion(kc, str(client.base_url))
        form = {
            "grant_type": "client_credentials",
            "client_id": kc.client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        }
        first = await client.post("/oauth/token", data=form)
        assert first.status_code == 200, first.text
        second = await client.post("/oauth/token", data=form)
        assert second.status_code in (400, 401)
        assert second.json()["error"] == "invalid_client"

    @pytest.mark.parametrize("audience", ["https://other.example", "{issuer}/oauth/par"])
    async def test_wrongly_addressed_assertion(
        self, client: httpx.AsyncClient, app: FastAPI, audience: str
    ) -> None:
        """An assertion whose aud is not the issuer is refused."""
        partner = await sandbox_partner(client)
        kc = await key_client(app, partner.partner_id, ["products"])
        assertion = client_assertion(kc, audience.format(issuer=client.base_url))
        response = await client.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
            },
        )
        assert response.json()["error"] == "invalid_client"

    async def test_assertion_signed_by_another_key(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """An assertion signed by a key the client did not register is refused."""
        from joserfc.jwk import ECKey

        partner = await sandbox_partner(client)
        kc = await key_client(app, partner.partner_id, ["products"])
        stranger = ECKey.generate_key("P-256")
        assertion = client_assertion(kc, str(client.base_url), key=stranger)
        response = await client.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
            },
        )
        assert response.json()["error"] == "invalid_client"


class TestStrictProfile:
    @pytest.fixture
    async def strict(self, tmp_path: Path) -> tuple[FastAPI, Settings]:
        settings = make_settings(tmp_path, fapi_profile="strict")
        return create_app(settings), settings

    async def test_secret_and_bearer_refused(self, strict: tuple[FastAPI, Settings]) -> None:
        """In the strict profile secrets do not authenticate and DPoP is mandatory."""
        application, settings = strict
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url=settings.issuer) as http:
                services = services_of(application)
                partner = await services.registry.create_partner("P", "school")
                issued = await services.registry.create_client(
                    partner_id=partner.id, scopes=["products"]
                )
                no_dpop = await http.post(
                    "/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(issued.client.client_id, issued.client_secret or ""),
                )
                assert no_dpop.status_code == 400
                key = DPoPKey.generate(alg="ES256")
                with_dpop = await http.post(
                    "/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(issued.client.client_id, issued.client_secret or ""),
                    headers={"DPoP": dpop_proof(key, "POST", f"{settings.issuer}/oauth/token")},
                )
                assert with_dpop.status_code == 401
                assert with_dpop.json()["error"] == "invalid_client"
                metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
                assert metadata["require_pushed_authorization_requests"] is True
                assert metadata["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]


def test_authlib_error_type_is_exposed() -> None:
    """The independent client library's error type is importable (used by callers)."""
    assert issubclass(OAuthError, Exception)
