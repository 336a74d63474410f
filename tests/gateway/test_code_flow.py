"""Authorization code flow: the HTML pages, PAR and token endpoint refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from requests_oauth2client import DPoPKey

from gateway.ids import sha256_hex
from gateway.storage.tables import authorization_codes, authorization_requests, clients
from tests.factories import (
    CALLBACK,
    Form,
    Partner,
    consent,
    customer_grant,
    customer_headers,
    dpop_proof,
    partner_token,
    push,
    sandbox_partner,
    services_of,
)


async def fresh_consent(client: httpx.AsyncClient, partner: Partner, **kw: object) -> str:
    return await consent(client, await partner_token(client, partner, "consents"), **kw)  # type: ignore[arg-type]


async def exchange(
    client: httpx.AsyncClient,
    partner: Partner,
    code: str,
    verifier: str | None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    if verifier is not None:
        form["code_verifier"] = verifier
    return await client.post("/oauth/token", data=form, auth=partner.basic, headers=headers)


async def approved_code(
    client: httpx.AsyncClient, partner: Partner, **push_overrides: str
) -> tuple[str, str]:
    consent_id = await fresh_consent(client, partner)
    par, verifier = await push(client, partner, consent_id, **push_overrides)
    assert par.status_code == 201, par.text
    done = await client.post(
        "/sandbox/authorize",
        auth=partner.basic,
        json={"request_uri": par.json()["request_uri"], "customer": "zhang.wei"},
    )
    assert done.status_code == 200, done.text
    return httpx.URL(done.json()["redirect_to"]).params["code"], verifier


class TestAuthorizePages:
    async def test_login_and_consent_forms(self, client: httpx.AsyncClient) -> None:
        """A customer logs in, picks one account and approves: 303 with code, state and iss."""
        partner = await sandbox_partner(client)
        consent_id = await fresh_consent(client, partner)
        par, verifier = await push(client, partner, consent_id)
        page = await client.get(
            "/oauth/authorize",
            params={"client_id": partner.client_id, "request_uri": par.json()["request_uri"]},
        )
        assert page.status_code == 200
        assert page.headers["X-Frame-Options"] == "DENY"
        login = Form(page.text)
        wrong = await client.post(
            login.action, data={**login.fields, "username": "zhang.wei", "password": "nope"}
        )
        assert wrong.status_code == 401
        consent_page = await client.post(
            login.action, data={**login.fields, "username": "zhang.wei", "password": "sandbox"}
        )
        assert consent_page.status_code == 200, consent_page.text
        decision = Form(consent_page.text)
        assert len(decision.checkboxes) >= 2
        chosen = decision.checkboxes[0][1]
        redirect = await client.post(
            decision.action, data={**decision.fields, "accounts": chosen, "decision": "approve"}
        )
        assert redirect.status_code == 303
        location = httpx.URL(redirect.headers["location"])
        assert str(location).startswith(CALLBACK)
        assert location.params["state"] == "xyz"
        assert location.params["iss"] == str(client.base_url)
        token = await exchange(client, partner, location.params["code"], verifier)
        assert token.status_code == 200, token.text
        grant = token.json()
        listed = await client.get(
            "/v1/accounts", headers={"Authorization": f"Bearer {grant['access_token']}"}
        )
        assert [a["account_id"] for a in listed.json()["data"]] == [chosen]

    async def test_denial_redirects_access_denied(self, client: httpx.AsyncClient) -> None:
        """Denying sends access_denied back and rejects the consent."""
        partner = await sandbox_partner(client)
        consent_id = await fresh_consent(client, partner)
        par, _ = await push(client, partner, consent_id)
        page = await client.get(
            "/oauth/authorize",
            params={"client_id": partner.client_id, "request_uri": par.json()["request_uri"]},
        )
        login = Form(page.text)
        consent_page = await client.post(
            login.action, data={**login.fields, "username": "li.na", "password": "sandbox"}
        )
        decision = Form(consent_page.text)
        redirect = await client.post(decision.action, data={**decision.fields, "decision": "deny"})
        assert redirect.status_code == 303
        params = httpx.URL(redirect.headers["location"]).params
        assert params["error"] == "access_denied"
        assert "code" not in params
        token = await partner_token(client, partner, "consents")
        status = await client.get(
            f"/v1/consents/{consent_id}", headers={"Authorization": f"Bearer {token}"}
        )
        assert status.json()["status"] == "Rejected"

    async def test_payment_consent_needs_one_time_code(self, client: httpx.AsyncClient) -> None:
        """A consent that moves funds asks for the one-time code before the consent screen."""
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "consents")
        consent_id = await consent(
            client,
            token,
            ["InitiatePayments"],
            "payment",
            payment={
                "amount": {"value": "120.00", "currency": "CNY"},
                "creditor": {"account_number": "6222020200112233445", "name": "市医院"},
                "reference": "Bill 42",
            },
        )
        par, _ = await push(client, partner, consent_id, scope="payments")
        assert par.status_code == 201, par.text
        page = await client.get(
            "/oauth/authorize",
            params={"client_id": partner.client_id, "request_uri": par.json()["request_uri"]},
        )
        login = Form(page.text)
        otp_page = await client.post(
            login.action, data={**login.fields, "username": "zhang.wei", "password": "sandbox"}
        )
        otp = Form(otp_page.text)
        assert otp.action.endswith("/oauth/authorize/otp")
        wrong = await client.post(otp.action, data={**otp.fields, "code": "000000"})
        assert wrong.status_code == 401
        right = await client.post(otp.action, data={**otp.fields, "code": "123456"})
        assert Form(right.text).action.endswith("/oauth/authorize/decision")

    async def test_tampered_session_refused(self, client: httpx.AsyncClient) -> None:
        """A forged interaction token gets an error page without a link, never a code."""
        response = await client.post(
            "/oauth/authorize/decision",
            data={"interaction": "eyJhbGciOiJIUzI1NiJ9.e30.forged", "decision": "approve"},
        )
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("text/html")
        assert "location" not in response.headers
        assert Form(response.text).links == []


class TestPushedRequests:
    @pytest.mark.parametrize(
        ("override", "error"),
        [
            ({"code_challenge_method": "plain"}, "invalid_request"),
            ({"code_challenge_method": "<omit>"}, "invalid_request"),
            ({"code_challenge": "<omit>"}, "invalid_request"),
            ({"redirect_uri": "https://evil.example/cb"}, "invalid_request"),
            ({"response_type": "token"}, "unsupported_response_type"),
            ({"scope": "accounts wealth"}, "invalid_scope"),
            ({"consent_id": "cns_doesnotexist"}, "invalid_request"),
            ({"request_uri": "urn:x"}, "invalid_request"),
        ],
    )
    async def test_refusals(
        self, client: httpx.AsyncClient, override: dict[str, str], error: str
    ) -> None:
        """A pushed request that breaks the profile is refused with the OAuth error."""
        partner = await sandbox_partner(client)
        consent_id = await fresh_consent(client, partner)
        par, _ = await push(client, partner, consent_id, override)
        assert par.status_code == 400, par.text
        assert par.json()["error"] == error
        assert "request_uri" not in par.json()

    async def test_missing_redirect_uri_says_it_is_required(
        self, client: httpx.AsyncClient
    ) -> None:
        """A pushed request without redirect_uri is told the parameter is required (not that
        it is unregistered); the same request with it is pushed."""
        partner = await sandbox_partner(client)
        consent_id = await fresh_consent(client, partner)
        par, _ = await push(client, partner, consent_id, {"redirect_uri": "<omit>"})
        assert par.status_code == 400
        assert "'redirect_uri' is required" in par.json()["error_description"]
        control, _ = await push(client, partner, consent_id)
        assert control.status_code == 201, control.text

    async def test_unsafe_redirect_uri_registered_earlier_is_refused(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """A plain-http, non-loopback redirect URI stored before the registration rule held
        gets no code: the pushed request is refused; the client's safe URI still works."""
        partner = await sandbox_partner(client)
        unsafe = "http://127.0.0.1.evil.example/cb"
        db = services_of(app).db
        async with db.transaction() as uow:
            await uow.conn.execute(
                clients.update()
                .where(clients.c.client_id == partner.client_id)
                .values(redirect_uris=[CALLBACK, unsafe])
            )
        consent_id = await fresh_consent(client, partner)
        par, _ = await push(client, partner, consent_id, {"redirect_uri": unsafe})
        assert par.status_code == 400
        assert par.json()["error"] == "invalid_request"
        assert "plain http" in par.json()["error_description"]
        control, _ = await push(client, partner, consent_id)
        assert control.status_code == 201, control.text

    async def test_loopback_redirect_uri_on_any_port(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """RFC 8252 §7.3: a native app's loopback URI may differ from the registered one in its
        port alone; another path, host or an https URI on another port is refused."""
        partner = await sandbox_partner(client)
        async with services_of(app).db.transaction() as uow:
            await uow.conn.execute(
                clients.update()
                .where(clients.c.client_id == partner.client_id)
                .values(redirect_uris=[CALLBACK, "http://127.0.0.1/cb", "https://app.example/cb"])
            )
        consent_id = await fresh_consent(client, partner)
        for accepted in ("http://127.0.0.1:53124/cb", "http://127.0.0.1/cb"):
            par, _ = await push(client, partner, consent_id, {"redirect_uri": accepted})
            assert par.status_code == 201, (accepted, par.text)
        for refused in (
            "http://127.0.0.1:53124/other",
            "http://localhost:53124/cb",
            "http://127.0.0.1:53124/cb?x=1",
            "https://app.example:8443/cb",
            "http://127.0.0.1:53124@evil.example/cb",
        ):
            par, _ = await push(client, partner, consent_id, {"redirect_uri": refused})
            assert par.status_code == 400, refused
            assert par.json()["error"] == "invalid_request"

    async def test_reused_request_uri(self, client: httpx.AsyncClient) -> None:
        """A request_uri is single use."""
        partner = await sandbox_partner(client)
        consent_id = await fresh_consent(client, partner)
        par, _ = await push(client, partner, consent_id)
        body = {"request_uri": par.json()["request_uri"], "customer": "zhang.wei"}
        first = await client.post("/sandbox/authorize", auth=partner.basic, json=body)
        assert first.status_code == 200
        second = await client.post("/sandbox/authorize", auth=partner.basic, json=body)
        assert second.status_code == 400
        page = await client.get(
            "/oauth/authorize",
            params={"client_id": partner.client_id, "request_uri": body["request_uri"]},
        )
        assert page.status_code == 410

    async def test_expired_request_uri(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        """A request_uri past its expires_in cannot be used."""
        partner = await sandbox_partner(client)
        consent_id = await fresh_consent(client, partner)
        par, _ = await push(client, partner, consent_id)
        assert par.json()["expires_in"] <= 90
        request_uri = par.json()["request_uri"]
        async with services_of(app).db.transaction() as uow:
            await uow.conn.execute(
                authorization_requests.update()
                .where(authorization_requests.c.id == sha256_hex(request_uri))
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        late = await client.post(
            "/sandbox/authorize",
            auth=partner.basic,
            json={"request_uri": request_uri, "customer": "zhang.wei"},
        )
        assert late.status_code == 400


class TestCodeExchange:
    async def test_pkce_verifier_required_and_checked(self, client: httpx.AsyncClient) -> None:
        """The token request needs the right PKCE verifier."""
        partner = await sandbox_partner(client)
        code, _ = await approved_code(client, partner)
        missing = await exchange(client, partner, code, None)
        assert missing.status_code == 400
        code, _ = await approved_code(client, partner)
        wrong = await exchange(client, partner, code, "x" * 50)
        assert wrong.status_code == 400
        assert wrong.json()["error"] == "invalid_grant"

    async def test_reused_code_revokes_first_tokens(self, client: httpx.AsyncClient) -> None:
        """A code used twice fails, and the tokens from its first use stop working."""
        partner = await sandbox_partner(client)
        code, verifier = await approved_code(client, partner)
        first = await exchange(client, partner, code, verifier)
        assert first.status_code == 200
        tokens = first.json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (await client.get("/v1/accounts", headers=headers)).status_code == 200
        second = await exchange(client, partner, code, verifier)
        assert second.status_code == 400
        assert second.json()["error"] == "invalid_grant"
        assert (await client.get("/v1/accounts", headers=headers)).status_code == 401
        refresh = await client.post(
            "/oauth/token",
            auth=partner.basic,
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
        assert refresh.status_code == 400

    async def test_code_older_than_a_minute(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        """A code is refused once its 60 s life is over."""
        partner = await sandbox_partner(client)
        code, verifier = await approved_code(client, partner)
        async with services_of(app).db.transaction() as uow:
            await uow.conn.execute(
                authorization_codes.update()
                .where(authorization_codes.c.code_hash == sha256_hex(code))
                .values(
                    expires_at=sa.literal(
                        datetime.now(UTC) - timedelta(seconds=1),
                        authorization_codes.c.expires_at.type,
                    )
                )
            )
        late = await exchange(client, partner, code, verifier)
        assert late.status_code == 400
        assert late.json()["error"] == "invalid_grant"

    async def test_dpop_bound_code(self, client: httpx.AsyncClient) -> None:
        """A code bound with dpop_jkt needs a proof from that key at the token endpoint."""
        partner = await sandbox_partner(client)
        key = DPoPKey.generate(alg="ES256")
        url = f"{client.base_url}/oauth/token"
        code, verifier = await approved_code(client, partner, dpop_jkt=key.dpop_jkt)
        other = DPoPKey.generate(alg="ES256")
        refused = await exchange(
            client, partner, code, verifier, {"DPoP": dpop_proof(other, "POST", url)}
        )
        assert refused.status_code == 400
        code, verifier = await approved_code(client, partner, dpop_jkt=key.dpop_jkt)
        no_proof = await exchange(client, partner, code, verifier)
        assert no_proof.status_code == 400

    async def test_redirect_uri_must_match(self, client: httpx.AsyncClient) -> None:
        """The token request's redirect_uri must be the one of the authorization."""
        partner = await sandbox_partner(client)
        code, verifier = await approved_code(client, partner)
        response = await client.post(
            "/oauth/token",
            auth=partner.basic,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": verifier,
                "redirect_uri": "http://127.0.0.1/other",
            },
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"


class TestConsentRevocation:
    async def test_revoked_consent_stops_tokens_and_refresh(
        self, client: httpx.AsyncClient
    ) -> None:
        """Revoking the consent stops its access token and its refresh token at once."""
        partner = await sandbox_partner(client)
        grant = await customer_grant(client, partner)
        ok = await client.get(
            "/v1/accounts", headers=customer_headers(client, grant, "GET", "/v1/accounts")
        )
        assert ok.status_code == 200
        token = await partner_token(client, partner, "consents")
        revoked = await client.delete(
            f"/v1/consents/{grant.consent_id}", headers={"Authorization": f"Bearer {token}"}
        )
        assert revoked.status_code == 204
        denied = await client.get(
            "/v1/accounts", headers=customer_headers(client, grant, "GET", "/v1/accounts")
        )
        assert denied.status_code == 401
        assert grant.dpop_key is not None
        refresh = await client.post(
            "/oauth/token",
            auth=partner.basic,
            data={"grant_type": "refresh_token", "refresh_token": grant.refresh_token},
            headers={"DPoP": dpop_proof(grant.dpop_key, "POST", f"{client.base_url}/oauth/token")},
        )
        assert refresh.status_code == 400
        shown = await client.get(
            f"/v1/consents/{grant.consent_id}", headers={"Authorization": f"Bearer {token}"}
        )
        assert shown.json()["status"] == "Revoked"

    async def test_other_partner_cannot_see_consent(self, client: httpx.AsyncClient) -> None:
        """Another partner's consent is not found."""
        owner = await sandbox_partner(client, "A")
        stranger = await sandbox_partner(client, "B")
        consent_id = await fresh_consent(client, owner)
        token = await partner_token(client, stranger, "consents")
        for method in ("GET", "DELETE"):
            response = await client.request(
                method, f"/v1/consents/{consent_id}", headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 404


class TestCodeRace:
    async def test_concurrent_exchanges_issue_once(self, client: httpx.AsyncClient) -> None:
        """Two simultaneous exchanges of one code never leave a usable token behind."""
        import asyncio

        partner = await sandbox_partner(client)
        code, verifier = await approved_code(client, partner)
        results = await asyncio.gather(
            *(exchange(client, partner, code, verifier) for _ in range(2))
        )
        statuses = sorted(r.status_code for r in results)
        assert statuses in ([200, 400], [400, 400])
        for issued in (r.json() for r in results if r.status_code == 200):
            listed = await client.get(
                "/v1/accounts", headers={"Authorization": f"Bearer {issued['access_token']}"}
            )
            assert listed.status_code == 401  # the reuse revoked what the first use issued
