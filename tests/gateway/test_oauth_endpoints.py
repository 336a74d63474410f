"""Metadata, introspection and revocation endpoints."""

from __future__ import annotations

import httpx

from tests.factories import partner_token, sandbox_partner


class TestMetadata:
    async def test_rfc8414_document(self, client: httpx.AsyncClient) -> None:
        """The metadata names every endpoint and the FAPI capabilities."""
        meta = (await client.get("/.well-known/oauth-authorization-server")).json()
        base = str(client.base_url)
        assert meta["issuer"] == base
        for name, path in [
            ("token_endpoint", "/oauth/token"),
            ("pushed_authorization_request_endpoint", "/oauth/par"),
            ("authorization_endpoint", "/oauth/authorize"),
            ("jwks_uri", "/oauth/jwks"),
            ("revocation_endpoint", "/oauth/revoke"),
            ("introspection_endpoint", "/oauth/introspect"),
        ]:
            assert meta[name] == base + path
        assert meta["code_challenge_methods_supported"] == ["S256"]
        assert meta["authorization_response_iss_parameter_supported"] is True
        assert set(meta["dpop_signing_alg_values_supported"]) == {"ES256", "PS256"}
        assert meta["require_pushed_authorization_requests"] is True
        assert "accounts" in meta["scopes_supported"]


class TestIntrospection:
    async def test_own_token_active_others_inactive(self, client: httpx.AsyncClient) -> None:
        """A client sees its own token as active; another client's token reads inactive."""
        owner = await sandbox_partner(client, "A")
        other = await sandbox_partner(client, "B")
        token = await partner_token(client, owner, "products consents")
        mine = await client.post("/oauth/introspect", data={"token": token}, auth=owner.basic)
        assert mine.status_code == 200
        body = mine.json()
        assert body["active"] is True
        assert body["client_id"] == owner.client_id
        assert set(body["scope"].split()) == {"products", "consents"}
        theirs = await client.post("/oauth/introspect", data={"token": token}, auth=other.basic)
        assert theirs.json() == {"active": False}

    async def test_revoked_and_garbage_tokens_inactive(self, client: httpx.AsyncClient) -> None:
        """Revoked or unknown tokens introspect as inactive; revocation is idempotent."""
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "products")
        for _ in range(2):
            revoked = await client.post("/oauth/revoke", data={"token": token}, auth=partner.basic)
            assert revoked.status_code == 200
        for candidate in (token, "not-a-token", "a.b.c"):
            response = await client.post(
                "/oauth/introspect", data={"token": candidate}, auth=partner.basic
            )
            assert response.json() == {"active": False}

    async def test_requires_client_authentication(self, client: httpx.AsyncClient) -> None:
        """Introspection without client credentials is refused."""
        response = await client.post("/oauth/introspect", data={"token": "x"})
        assert response.status_code in (400, 401)
        assert response.json()["error"] == "invalid_client"


class TestClientAuthenticationMethods:
    async def test_two_methods_at_once_are_refused(self, client: httpx.AsyncClient) -> None:
        """RFC 6749 §2.3: Basic and client_secret_post together are refused; either alone works."""
        partner = await sandbox_partner(client)
        form = {"grant_type": "client_credentials", "scope": "products"}
        basic = await client.post("/oauth/token", data=form, auth=partner.basic)
        assert basic.status_code == 200
        post = await client.post(
            "/oauth/token",
            data={**form, "client_id": partner.client_id, "client_secret": partner.client_secret},
        )
        assert post.status_code == 200
        both = await client.post(
            "/oauth/token",
            data={**form, "client_id": partner.client_id, "client_secret": partner.client_secret},
            auth=partner.basic,
        )
        assert both.status_code == 400
        assert both.json()["error"] == "invalid_request"
        assert "exactly one client authentication method" in both.json()["error_description"]

    async def test_blank_parameters_count_as_omitted(self, client: httpx.AsyncClient) -> None:
        """RFC 6749 §3.1: `token=` is a missing token, not an empty one; a real token works."""
        partner = await sandbox_partner(client)
        blank = await client.post(
            "/oauth/introspect", data={"token": "", "token_type_hint": ""}, auth=partner.basic
        )
        assert blank.status_code == 400
        assert blank.json()["error"] == "invalid_request"
        token = await partner_token(client, partner, "products")
        control = await client.post(
            "/oauth/introspect", data={"token": token, "token_type_hint": ""}, auth=partner.basic
        )
        assert control.json()["active"] is True
