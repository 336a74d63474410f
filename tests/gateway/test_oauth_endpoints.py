"""Metadata, introspection and revocation endpoints."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.oauth.schemas import ASSERTION_TYPE
from gateway.storage.tables import consents
from tests.factories import (
    CustomerGrant,
    Partner,
    client_assertion,
    customer_grant,
    dpop_proof,
    key_client,
    partner_token,
    pushed_form,
    sandbox_partner,
    services_of,
)


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

    async def test_every_client_authenticated_endpoint_names_its_methods_and_algs(
        self, client: httpx.AsyncClient
    ) -> None:
        """RFC 8414 §2: token, revocation and introspection each list their client
        authentication methods and, since private_key_jwt is one, its signing algorithms."""
        meta = (await client.get("/.well-known/oauth-authorization-server")).json()
        for endpoint in ("token", "revocation", "introspection"):
            methods = meta[f"{endpoint}_endpoint_auth_methods_supported"]
            assert set(methods) == {"private_key_jwt", "client_secret_basic", "client_secret_post"}
            algs = meta[f"{endpoint}_endpoint_auth_signing_alg_values_supported"]
            assert algs == ["ES256", "PS256"]


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


async def refresh(client: httpx.AsyncClient, partner: Partner, grant: CustomerGrant) -> int:
    """The status of a refresh with the grant's refresh token (unbound grants only)."""
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": grant.refresh_token},
        auth=partner.basic,
    )
    return response.status_code


class TestRevocation:
    @pytest.mark.parametrize("hint", ["access_token", "refresh_token", "id_token", "x" * 60])
    async def test_any_hint_revokes_an_access_token(
        self, client: httpx.AsyncClient, hint: str
    ) -> None:
        """RFC 7009 §2.1: a wrong or unknown `token_type_hint` extends the search; the access
        token is revoked whatever the hint says."""
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "products")
        assert await reads(client, token) == 200
        revoked = await client.post(
            "/oauth/revoke", data={"token": token, "token_type_hint": hint}, auth=partner.basic
        )
        assert (revoked.status_code, revoked.json()) == (200, {})
        assert await reads(client, token) == 401

    @pytest.mark.parametrize("hint", ["refresh_token", "access_token", "unknown"])
    async def test_any_hint_revokes_a_refresh_token_and_its_grant(
        self, client: httpx.AsyncClient, hint: str
    ) -> None:
        """A refresh token is revoked whatever the hint says, and with it the access tokens
        of its grant (RFC 7009 §2.1)."""
        partner = await sandbox_partner(client)
        grant = await customer_grant(client, partner, dpop=False)
        headers = {"Authorization": f"Bearer {grant.access_token}"}
        assert (await client.get("/v1/accounts", headers=headers)).status_code == 200
        form = {"token": grant.refresh_token, "token_type_hint": hint}
        revoked = await client.post("/oauth/revoke", data=form, auth=partner.basic)
        assert (revoked.status_code, revoked.json()) == (200, {})
        assert await refresh(client, partner, grant) == 400
        assert (await client.get("/v1/accounts", headers=headers)).status_code == 401

    async def test_refresh_still_works_before_revocation(self, client: httpx.AsyncClient) -> None:
        """Positive control: the same grant's refresh token works until it is revoked."""
        partner = await sandbox_partner(client)
        grant = await customer_grant(client, partner, dpop=False)
        assert await refresh(client, partner, grant) == 200

    async def test_another_clients_token_reads_like_an_unknown_one(
        self, client: httpx.AsyncClient
    ) -> None:
        """Revoking another client's live token answers exactly like an unknown string
        (200, nothing revoked), so the endpoint reveals no live tokens; the owner can
        revoke it."""
        owner = await sandbox_partner(client, "A")
        other = await sandbox_partner(client, "B")
        token = await partner_token(client, owner, "products")
        theirs = await client.post("/oauth/revoke", data={"token": token}, auth=other.basic)
        unknown = await client.post("/oauth/revoke", data={"token": "x" * 40}, auth=other.basic)
        assert (theirs.status_code, theirs.content) == (unknown.status_code, unknown.content)
        assert (theirs.status_code, theirs.json()) == (200, {})
        assert await reads(client, token) == 200
        mine = await client.post("/oauth/revoke", data={"token": token}, auth=owner.basic)
        assert mine.status_code == 200
        assert await reads(client, token) == 401

    async def test_unknown_hint_is_ignored_by_introspection(
        self, client: httpx.AsyncClient
    ) -> None:
        """Introspection, too, finds a token whatever the hint says."""
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "products")
        for hint in ("refresh_token", "id_token"):
            found = await client.post(
                "/oauth/introspect",
                data={"token": token, "token_type_hint": hint},
                auth=partner.basic,
            )
            assert found.json()["active"] is True


async def reads(client: httpx.AsyncClient, token: str) -> int:
    response = await client.get(
        "/v1/products/deposits", headers={"Authorization": f"Bearer {token}"}
    )
    return response.status_code


ENDPOINTS = ["/oauth/token", "/oauth/par", "/oauth/revoke", "/oauth/introspect"]
SUCCESS = {"/oauth/token": 200, "/oauth/par": 201, "/oauth/revoke": 200, "/oauth/introspect": 200}


async def legitimate_form(
    client: httpx.AsyncClient, partner: Partner, endpoint: str
) -> dict[str, str]:
    """A form that `endpoint` accepts once the partner's client authenticates."""
    if endpoint == "/oauth/token":
        return {"grant_type": "client_credentials", "scope": "products"}
    if endpoint == "/oauth/par":
        return (await pushed_form(client, partner))[1]
    return {"token": await partner_token(client, partner, "products")}


def basic(credentials: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(credentials).decode()}


def assert_invalid_client(response: httpx.Response) -> None:
    """401 invalid_client with the Basic challenge (RFC 6749 §5.2), as an OAuth problem."""
    assert response.status_code == 401, response.text
    body = response.json()
    assert (body["error"], body["code"]) == ("invalid_client", "invalid-client")
    assert response.headers["www-authenticate"] == 'Basic realm="obgw"'


class TestClientAuthenticationMethods:
    @pytest.mark.parametrize("endpoint", ENDPOINTS)
    @pytest.mark.parametrize(
        "credentials",
        [b"\xff\xfe:\xfa", b"cli_x:\xc3\x28", b"%ff%fe:secret", b"no-colon-at-all"],
    )
    async def test_undecodable_basic_credentials(
        self, client: httpx.AsyncClient, endpoint: str, credentials: bytes
    ) -> None:
        """Basic credentials that are not UTF-8 'id:secret' are 401 invalid_client, never a
        500; the partner's own credentials, sent the same way, pass."""
        partner = await sandbox_partner(client)
        form = await legitimate_form(client, partner, endpoint)
        refused = await client.post(endpoint, data=form, headers=basic(credentials))
        assert_invalid_client(refused)
        own = f"{partner.client_id}:{partner.client_secret}".encode()
        control = await client.post(endpoint, data=form, headers=basic(own))
        assert control.status_code == SUCCESS[endpoint], control.text

    @pytest.mark.parametrize("endpoint", ENDPOINTS)
    async def test_not_base64_basic_credentials(
        self, client: httpx.AsyncClient, endpoint: str
    ) -> None:
        """A Basic credential that is not base64 at all is 401 invalid_client."""
        partner = await sandbox_partner(client)
        form = await legitimate_form(client, partner, endpoint)
        refused = await client.post(
            endpoint, data=form, headers={"Authorization": "Basic %%%not-base64%%%"}
        )
        assert_invalid_client(refused)

    @pytest.mark.parametrize("endpoint", ENDPOINTS)
    async def test_wrong_secret_is_challenged(
        self, client: httpx.AsyncClient, endpoint: str
    ) -> None:
        """A wrong secret is 401 invalid_client with a WWW-Authenticate challenge on every
        endpoint, revocation and introspection included; the right one passes."""
        partner = await sandbox_partner(client)
        form = await legitimate_form(client, partner, endpoint)
        refused = await client.post(endpoint, data=form, auth=(partner.client_id, "wrong"))
        assert_invalid_client(refused)
        assert "secret is wrong" in refused.json()["error_description"]
        control = await client.post(endpoint, data=form, auth=partner.basic)
        assert control.status_code == SUCCESS[endpoint], control.text

    @pytest.mark.parametrize("endpoint", ENDPOINTS)
    async def test_no_credentials_are_challenged(
        self, client: httpx.AsyncClient, endpoint: str
    ) -> None:
        """A request without client authentication is 401 invalid_client with a challenge."""
        partner = await sandbox_partner(client)
        form = await legitimate_form(client, partner, endpoint)
        assert_invalid_client(await client.post(endpoint, data=form))

    @pytest.mark.parametrize("endpoint", ENDPOINTS)
    @pytest.mark.parametrize("combination", ["basic+post", "basic+assertion", "post+assertion"])
    async def test_two_methods_at_once_are_refused(
        self, client: httpx.AsyncClient, endpoint: str, combination: str
    ) -> None:
        """RFC 6749 §2.3: two client authentication methods in one request are refused on
        every endpoint; Basic alone and client_secret_post alone both pass."""
        partner = await sandbox_partner(client)
        form = await legitimate_form(client, partner, endpoint)
        post = {"client_id": partner.client_id, "client_secret": partner.client_secret}
        assertion = {"client_assertion_type": ASSERTION_TYPE, "client_assertion": "a.b.c"}
        parts = combination.split("+")
        body = {
            **form,
            **(post if "post" in parts else {}),
            **(assertion if "assertion" in parts else {}),
        }
        auth = partner.basic if "basic" in parts else None
        both = await client.post(endpoint, data=body, auth=auth)
        assert both.status_code == 400, both.text
        assert both.json()["error"] == "invalid_request"
        assert "exactly one client authentication method" in both.json()["error_description"]
        alone = await client.post(endpoint, data=form, auth=partner.basic)
        assert alone.status_code == SUCCESS[endpoint], alone.text
        as_post = await client.post(endpoint, data={**form, **post})
        assert as_post.status_code == SUCCESS[endpoint], as_post.text

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


async def refresh_response(
    client: httpx.AsyncClient, partner: Partner, grant: CustomerGrant
) -> httpx.Response:
    """A refresh with the grant's refresh token, with a proof of its key when bound."""
    headers = {}
    if grant.dpop_key is not None:
        url = f"{client.base_url}/oauth/token"
        headers["DPoP"] = dpop_proof(grant.dpop_key, "POST", url)
    return await client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": grant.refresh_token},
        auth=partner.basic,
        headers=headers,
    )


def assert_refusal(response: httpx.Response, status: int, error: str, code: str) -> dict[str, Any]:
    """An OAuth refusal: RFC 6749 `error`, an ASCII `error_description`, the problem `code`."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert (body["error"], body["code"], body["type"]) == (error, code, f"/problems/{code}")
    assert body["error_description"].isascii()
    return body


async def expire_consent(app: FastAPI, consent_id: str) -> None:
    async with services_of(app).db.transaction() as uow:
        await uow.conn.execute(
            consents.update()
            .where(consents.c.id == consent_id)
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )


class TestRefusalsSayWhatToDo:
    async def test_wrong_secret_in_the_callers_language(self, client: httpx.AsyncClient) -> None:
        """A wrong secret is `invalid-client` (not a token problem) and says so in Chinese
        when asked, with the English in `error_description`; the right secret passes."""
        partner = await sandbox_partner(client)
        form = {"grant_type": "client_credentials"}
        refused = await client.post(
            "/oauth/token",
            data=form,
            auth=(partner.client_id, "wrong"),
            headers={"Accept-Language": "zh-CN"},
        )
        body = assert_refusal(refused, 401, "invalid_client", "invalid-client")
        assert body["title"] == "客户端认证失败"
        assert body["detail"] == "该 client_id 的客户端密钥不正确：请核对，或向银行申请新的密钥。"
        assert body["error_description"].startswith("The client secret is wrong")
        assert refused.headers["content-language"] == "zh-CN"
        control = await client.post("/oauth/token", data=form, auth=partner.basic)
        assert control.status_code == 200, control.text

    @pytest.mark.parametrize(
        ("scope", "says"),
        [
            ("ops:admin", "operations clients only"),
            ("accounts", "customer scope"),
            ("nonsense", "not a scope of this gateway"),
        ],
    )
    async def test_scope_refusals_name_the_reason(
        self, client: httpx.AsyncClient, scope: str, says: str
    ) -> None:
        """Client credentials refuse an operations, customer or unknown scope, each saying
        why; a partner scope is granted."""
        partner = await sandbox_partner(client)
        refused = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "scope": scope},
            auth=partner.basic,
        )
        body = assert_refusal(refused, 400, "invalid_scope", "invalid-scope")
        assert says in body["error_description"]
        assert (await partner_token(client, partner, "products")).count(".") == 2

    async def test_scope_the_client_lacks_says_ask_the_bank(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """A partner scope the client is not registered for says to ask the bank."""
        partner = await sandbox_partner(client)
        kc = await key_client(app, partner.partner_id, ["products"])
        form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE}
        refused = await client.post(
            "/oauth/token",
            data={
                **form,
                "scope": "events",
                "client_assertion": client_assertion(kc, str(client.base_url)),
            },
        )
        body = assert_refusal(refused, 400, "invalid_scope", "invalid-scope")
        assert "not registered for 'events'" in body["error_description"]

    async def test_refresh_after_a_reused_code_says_why(self, client: httpx.AsyncClient) -> None:
        """After its code was used twice a grant's refresh is refused as `token-revoked`,
        saying the code was reused; before that the refresh worked."""
        partner = await sandbox_partner(client)
        _, form, verifier = await pushed_form(client, partner)
        par = await client.post("/oauth/par", data=form, auth=partner.basic)
        approved = await client.post(
            "/sandbox/authorize",
            json={"request_uri": par.json()["request_uri"], "customer": "zhang.wei"},
            auth=partner.basic,
        )
        exchange = {
            "grant_type": "authorization_code",
            "code": httpx.URL(approved.json()["redirect_to"]).params["code"],
            "redirect_uri": form["redirect_uri"],
            "code_verifier": verifier,
        }
        first = await client.post("/oauth/token", data=exchange, auth=partner.basic)
        grant = CustomerGrant(first.json()["access_token"], first.json()["refresh_token"], "", None)
        assert (await refresh_response(client, partner, grant)).status_code == 200
        reused = await client.post("/oauth/token", data=exchange, auth=partner.basic)
        assert (
            "already used"
            in assert_refusal(reused, 400, "invalid_grant", "invalid-grant")["error_description"]
        )
        refused = await refresh_response(client, partner, grant)
        body = assert_refusal(refused, 400, "invalid_grant", "token-revoked")
        assert "already used" in body["error_description"]

    async def test_refresh_tells_a_dead_token_from_a_dead_consent(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """A refresh names what ended: the refresh token (`token-revoked`), or the consent
        (`consent-revoked`, `consent-expired`: ask the customer again); a live grant
        refreshes."""
        partner = await sandbox_partner(client)
        consents_token = await partner_token(client, partner, "consents")
        live = await customer_grant(client, partner)
        assert (await refresh_response(client, partner, live)).status_code == 200

        revoked_token = await customer_grant(client, partner)
        await client.post(
            "/oauth/revoke", data={"token": revoked_token.refresh_token}, auth=partner.basic
        )
        refused = await refresh_response(client, partner, revoked_token)
        assert_refusal(refused, 400, "invalid_grant", "token-revoked")

        revoked_consent = await customer_grant(client, partner)
        await client.delete(
            f"/v1/consents/{revoked_consent.consent_id}",
            headers={"Authorization": f"Bearer {consents_token}"},
        )
        refused = await refresh_response(client, partner, revoked_consent)
        body = assert_refusal(refused, 400, "invalid_grant", "consent-revoked")
        assert "new consent" in body["error_description"]

        expired = await customer_grant(client, partner)
        await expire_consent(app, expired.consent_id)
        refused = await refresh_response(client, partner, expired)
        assert_refusal(refused, 400, "invalid_grant", "consent-expired")

    async def test_expired_consent_at_a_resource(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """A token whose consent expired is `consent-expired` at /v1, not a token problem;
        a token of a live consent reads."""
        partner = await sandbox_partner(client)
        live = await customer_grant(client, partner, dpop=False)
        expired = await customer_grant(client, partner, dpop=False)
        await expire_consent(app, expired.consent_id)
        response = await client.get(
            "/v1/accounts", headers={"Authorization": f"Bearer {expired.access_token}"}
        )
        assert response.status_code == 401
        assert response.json()["code"] == "consent-expired"
        control = await client.get(
            "/v1/accounts", headers={"Authorization": f"Bearer {live.access_token}"}
        )
        assert control.status_code == 200, control.text

    async def test_errors_from_the_grant_machinery_are_ours(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """An unsupported grant type and a grant the client may not use are answered in our
        words, in Chinese when asked; client credentials pass."""
        partner = await sandbox_partner(client)
        zh = {"Accept-Language": "zh"}
        password = await client.post(
            "/oauth/token", data={"grant_type": "password"}, auth=partner.basic, headers=zh
        )
        body = assert_refusal(password, 400, "unsupported_grant_type", "unsupported-grant-type")
        assert body["detail"].startswith("不支持该授权类型")
        assert "client_credentials" in body["error_description"]
        issued = await services_of(app).registry.create_client(
            partner_id=None, scopes=["ops:read"], kind="ops", name="ops"
        )
        assert issued.client_secret is not None
        ops = (issued.client.client_id, issued.client_secret)
        refresh = await client.post(
            "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": "x"}, auth=ops
        )
        body = assert_refusal(refresh, 400, "unauthorized_client", "unauthorized-client")
        assert "client_credentials" in body["error_description"]
        control = await client.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=ops
        )
        assert control.status_code == 200, control.text
