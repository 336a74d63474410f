"""Client credentials with an independent OAuth client (authlib's httpx client)."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import ECKey
from requests_oauth2client import DPoPKey

from gateway.app import create_app
from gateway.clock import utcnow
from gateway.oauth.schemas import ASSERTION_TYPE
from gateway.partners.models import Client
from gateway.settings import Settings
from tests.conftest import make_settings
from tests.factories import (
    KeyClient,
    client_assertion,
    dpop_proof,
    eventually_status,
    joserfc_rsa,
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


def assertion_form(assertion: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }


class TestClientKeysAtTheTokenEndpoint:
    @pytest.mark.filterwarnings("ignore:Key size should be")
    async def test_weak_registered_key_does_not_authenticate(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """A client whose stored JWKS holds only an RSA-1024 key (registered before keys were
        checked) cannot authenticate; a P-256 client, the same way, can."""
        services = services_of(app)
        partner = await sandbox_partner(client)
        weak = joserfc_rsa(1024)
        client_id = f"cli_weak{secrets.token_hex(4)}"
        async with services.db.transaction() as uow:
            await services.registry.clients.insert(
                uow.conn,
                Client(
                    client_id=client_id,
                    partner_id=partner.partner_id,
                    kind="partner",
                    name="legacy",
                    auth_method="private_key_jwt",
                    scopes=("products",),
                    redirect_uris=(),
                    status="active",
                    created_at=utcnow(),
                    jwks={"keys": [{**weak.as_dict(private=False), "kid": "client-key-1"}]},
                ),
            )
        legacy = KeyClient(client_id, partner.partner_id, weak)  # type: ignore[arg-type]
        issuer = str(client.base_url)
        assertion = client_assertion(legacy, issuer, key=weak, alg="PS256")  # type: ignore[arg-type]
        refused = await client.post("/oauth/token", data=assertion_form(assertion))
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_client"
        assert "2048 to 4096 bits" in refused.json()["error_description"]
        kc = await key_client(app, partner.partner_id, ["products"])
        control = await client.post(
            "/oauth/token", data=assertion_form(client_assertion(kc, issuer))
        )
        assert control.status_code == 200, control.text

    async def test_assertion_carrying_its_own_key_is_refused(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """An assertion signed by a key it embeds (`jwk` header) is refused: keys come from
        the registered JWKS only; the registered key's assertion passes."""
        partner = await sandbox_partner(client)
        kc = await key_client(app, partner.partner_id, ["products"])
        issuer = str(client.base_url)
        attacker = ECKey.generate_key("P-256")
        now = int(time.time())
        claims = {"iss": kc.client_id, "sub": kc.client_id, "aud": issuer, "jti": "j-1"}
        header = {"alg": "ES256", "kid": "client-key-1", "jwk": attacker.as_dict(private=False)}
        forged = jwt.encode(header, {**claims, "iat": now, "exp": now + 60}, attacker)
        refused = await client.post("/oauth/token", data=assertion_form(forged))
        assert refused.json()["error"] == "invalid_client"
        control = await client.post(
            "/oauth/token", data=assertion_form(client_assertion(kc, issuer))
        )
        assert control.status_code == 200, control.text

    async def test_unauthenticated_request_spends_no_dpop_proof(
        self, client: httpx.AsyncClient
    ) -> None:
        """The client is authenticated before its DPoP proof is checked: a request with a
        wrong secret leaves the proof unspent, and the client's own request then uses it."""
        partner = await sandbox_partner(client)
        proof = dpop_proof(DPoPKey.generate(alg="ES256"), "POST", f"{client.base_url}/oauth/token")
        form = {"grant_type": "client_credentials", "scope": "products"}
        refused = await client.post(
            "/oauth/token", data=form, auth=(partner.client_id, "wrong"), headers={"DPoP": proof}
        )
        assert refused.json()["error"] == "invalid_client"
        issued = await client.post(
            "/oauth/token", data=form, auth=partner.basic, headers={"DPoP": proof}
        )
        assert issued.status_code == 200, issued.text
        assert issued.json()["token_type"] == "DPoP"


class TestStrictProfile:
    @pytest.fixture
    async def strict(self, tmp_path: Path) -> tuple[FastAPI, Settings]:
        settings = make_settings(tmp_path, fapi_profile="strict")
        return create_app(settings), settings

    async def test_secret_and_bearer_refused(self, strict: tuple[FastAPI, Settings]) -> None:
        """In the strict profile secrets do not authenticate and DPoP is mandatory; a key
        client with a DPoP proof gets its token."""
        application, settings = strict
        token_url = f"{settings.issuer}/oauth/token"
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url=settings.issuer) as http:
                services = services_of(application)
                partner = await services.registry.create_partner("P", "school")
                issued = await services.registry.create_client(
                    partner_id=partner.id, scopes=["products"]
                )
                key = DPoPKey.generate(alg="ES256")
                for headers in ({}, {"DPoP": dpop_proof(key, "POST", token_url)}):
                    by_secret = await http.post(
                        "/oauth/token",
                        data={"grant_type": "client_credentials"},
                        auth=(issued.client.client_id, issued.client_secret or ""),
                        headers=headers,
                    )
                    assert by_secret.status_code == 401
                    assert by_secret.json()["error"] == "invalid_client"
                    assert by_secret.headers["www-authenticate"].startswith("Basic ")
                kc = await key_client(application, partner.id, ["products"])
                form = {
                    "grant_type": "client_credentials",
                    "client_assertion_type": ASSERTION_TYPE,
                }
                no_dpop = await http.post(
                    "/oauth/token",
                    data={**form, "client_assertion": client_assertion(kc, settings.issuer)},
                )
                assert no_dpop.status_code == 400
                assert no_dpop.json()["error"] == "invalid_dpop_proof"
                with_dpop = await http.post(
                    "/oauth/token",
                    data={**form, "client_assertion": client_assertion(kc, settings.issuer)},
                    headers={"DPoP": dpop_proof(key, "POST", token_url)},
                )
                assert with_dpop.status_code == 200, with_dpop.text
                metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
                assert metadata["require_pushed_authorization_requests"] is True
                for endpoint in ("token", "revocation", "introspection"):
                    methods = metadata[f"{endpoint}_endpoint_auth_methods_supported"]
                    assert methods == ["private_key_jwt"]
                    algs = metadata[f"{endpoint}_endpoint_auth_signing_alg_values_supported"]
                    assert algs == ["ES256", "PS256"]


def test_authlib_error_type_is_exposed() -> None:
    """The independent client library's error type is importable (used by callers)."""
    assert issubclass(OAuthError, Exception)
