"""Customer authentication on the authorize pages: attempt limits, expiry, dynamic linking,
suspended partners, production without a provider, and the pages people see when it fails.

Every refusal stands beside a positive control built the same way, so a refusal cannot
come from a broken builder.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from adapters.contract import CoreContext, Customer
from adapters.identity import CodeChallenge, ConsentTerms, CustomerAuthenticator
from gateway.app import create_app
from gateway.ids import sha256_hex
from gateway.oauth.flow import RequestUnusable, Unusable
from gateway.oauth.interaction import Interaction, Interactions
from gateway.storage.tables import authorization_requests, consents
from policies.vocabulary import ConsentType
from tests.conftest import make_settings
from tests.factories import (
    CALLBACK,
    PAYMENT,
    Form,
    Partner,
    approve,
    client_assertion,
    interaction_claims,
    json_lines,
    key_client,
    log_in,
    login_form,
    pkce_pair,
    pushed_request_uri,
    sandbox_partner,
    services_of,
    submit,
)

SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def assert_page(response: httpx.Response, status: int, title: str) -> Form:
    """An HTML page (never JSON) with the pages' security headers and this English title."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert title in response.text
    return Form(response.text)


def assert_back_link(form: Form, error: str) -> None:
    """One link back: the registered redirect URI with error, state and iss (RFC 9207)."""
    assert len(form.links) == 1, form.links
    link = httpx.URL(form.links[0])
    assert str(link).startswith(CALLBACK + "?")
    assert link.params["error"] == error
    assert link.params["state"] == "xyz"
    assert link.params["iss"] == "http://127.0.0.1:8000"
    assert "code" not in link.params


async def consent_status(app: FastAPI, request_uri: str) -> str:
    """The status of the consent a pushed request names."""
    services = services_of(app)
    async with services.db.read() as conn:
        row = (
            await conn.execute(
                authorization_requests.select().where(
                    authorization_requests.c.id == sha256_hex(request_uri)
                )
            )
        ).one()
    consent = await services.consents.get(row.params["consent_id"])
    assert consent is not None
    return consent.status.value


async def expire(app: FastAPI, request_uri: str) -> None:
    """Move a pushed request's expiry into the past."""
    async with services_of(app).db.transaction() as uow:
        await uow.conn.execute(
            authorization_requests.update()
            .where(authorization_requests.c.id == sha256_hex(request_uri))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )


async def change_payment(app: FastAPI, request_uri: str, **payment: Any) -> None:
    """Change a pushed request's payment consent's stored terms (as a tampered store would)."""
    services = services_of(app)
    async with services.db.transaction() as uow:
        row = (
            await uow.conn.execute(
                authorization_requests.select().where(
                    authorization_requests.c.id == sha256_hex(request_uri)
                )
            )
        ).one()
        await uow.conn.execute(
            consents.update()
            .where(consents.c.id == row.params["consent_id"])
            .values(payment={**PAYMENT, **payment})
        )


async def otp_form(client: httpx.AsyncClient, partner: Partner, request_uri: str) -> Form:
    """The one-time-code form of a payment request, after a right password."""
    page = await log_in(client, await login_form(client, partner, request_uri))
    assert page.status_code == 200, page.text
    form = Form(page.text)
    assert form.action.endswith("/oauth/authorize/otp")
    return form


async def consent_form(
    client: httpx.AsyncClient, partner: Partner, request_uri: str, *, payment: bool = False
) -> Form:
    """The consent form, after the password (and the code for a payment)."""
    if payment:
        page = await submit(client, await otp_form(client, partner, request_uri), code="123456")
    else:
        page = await log_in(client, await login_form(client, partner, request_uri))
    assert page.status_code == 200, page.text
    form = Form(page.text)
    assert form.action.endswith("/oauth/authorize/decision")
    return form


class BankWideCustomers:
    """A provider whose customers are the same people whichever partner asks, as a bank's
    own identity provider's are: the sandbox's customers under one bank-wide reference."""

    name = "bank-wide"

    def __init__(self, inner: CustomerAuthenticator) -> None:
        self.inner = inner
        self.checked = 0
        # One bank per test: tests sharing a PostgreSQL database must not share lock-outs.
        self.bank = f"bank-{secrets.token_hex(4)}:"

    def _bank_wide(self, customer: Customer | None) -> Customer | None:
        if customer is None:
            return None
        return dataclasses.replace(customer, core_ref=self.bank + customer.username)

    async def authenticate(self, ctx: CoreContext, username: str, password: str) -> Customer | None:
        self.checked += 1
        return self._bank_wide(await self.inner.authenticate(ctx, username, password))

    async def find(self, ctx: CoreContext, username: str) -> Customer | None:
        return self._bank_wide(await self.inner.find(ctx, username))

    async def send_one_time_code(
        self, ctx: CoreContext, customer: Customer, terms: ConsentTerms
    ) -> CodeChallenge:
        return await self.inner.send_one_time_code(ctx, customer, terms)

    async def verify_one_time_code(
        self,
        ctx: CoreContext,
        customer: Customer,
        challenge: CodeChallenge,
        terms: ConsentTerms,
        code: str,
    ) -> bool:
        return await self.inner.verify_one_time_code(ctx, customer, challenge, terms, code)


def install(app: FastAPI, provider: CustomerAuthenticator) -> None:
    services = services_of(app)
    services.customer_auth = provider
    services.flow.customers = provider


class TestPasswordLimits:
    async def test_wrong_passwords_lock_the_request(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """Five wrong passwords lock the pushed request: even the right password is then
        refused, and its request_uri is dead on the pages and at /sandbox/authorize."""
        partner = await sandbox_partner(client)
        control = await pushed_request_uri(client, partner)
        assert (await log_in(client, await login_form(client, partner, control))).status_code == 200
        request_uri = await pushed_request_uri(client, partner)
        form = await login_form(client, partner, request_uri)
        for n in range(1, 5):
            wrong = await log_in(client, form, f"nobody{n}", "guess")
            assert wrong.status_code == 401
            form = Form(wrong.text)
        fifth = await log_in(client, form, "nobody5", "guess")
        assert_back_link(assert_page(fifth, 429, "Authorization locked"), "access_denied")
        right = await log_in(client, form)
        assert_page(right, 429, "Authorization locked")
        reopened = await client.get(
            "/oauth/authorize", params={"client_id": partner.client_id, "request_uri": request_uri}
        )
        assert_back_link(assert_page(reopened, 429, "Authorization locked"), "access_denied")
        headless = await client.post(
            "/sandbox/authorize",
            auth=partner.basic,
            json={"request_uri": request_uri, "customer": "zhang.wei"},
        )
        assert headless.status_code == 400
        assert await consent_status(app, request_uri) == "AwaitingAuthorisation"
        fresh = await pushed_request_uri(client, partner)
        assert (await log_in(client, await login_form(client, partner, fresh))).status_code == 200

    async def test_customer_locked_across_requests(self, client: httpx.AsyncClient) -> None:
        """Five wrong passwords for one customer, spread over requests, lock that customer
        for the lock-out period on any request; other customers still log in."""
        partner = await sandbox_partner(client)
        first = await login_form(client, partner, await pushed_request_uri(client, partner))
        for _ in range(4):
            wrong = await log_in(client, first, password="guess")
            assert wrong.status_code == 401
        second = await login_form(client, partner, await pushed_request_uri(client, partner))
        fifth = await log_in(client, second, password="guess")
        locked = assert_page(fifth, 429, "Customer login locked")
        assert fifth.headers["retry-after"] == "900"
        assert_back_link(locked, "access_denied")
        later = await login_form(client, partner, await pushed_request_uri(client, partner))
        assert_page(await log_in(client, later), 429, "Customer login locked")
        other = await login_form(client, partner, await pushed_request_uri(client, partner))
        assert (await log_in(client, other, "li.na")).status_code == 200

    async def test_locked_customer_for_every_partner(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """With a bank-wide provider, a customer locked through one partner's requests is
        locked on every partner's requests, while another customer is not."""
        install(app, BankWideCustomers(services_of(app).customer_auth))  # type: ignore[arg-type]
        school, hospital = await sandbox_partner(client, "A"), await sandbox_partner(client, "B")
        before = await login_form(
            client, hospital, await pushed_request_uri(client, hospital, payment=True)
        )
        assert (await log_in(client, before)).status_code == 200
        form = await login_form(client, school, await pushed_request_uri(client, school))
        for _ in range(4):
            assert (await log_in(client, form, password="guess")).status_code == 401
        form = await login_form(client, school, await pushed_request_uri(client, school))
        assert_page(await log_in(client, form, password="guess"), 429, "Customer login locked")
        elsewhere = await login_form(
            client, hospital, await pushed_request_uri(client, hospital, payment=True)
        )
        assert_page(await log_in(client, elsewhere), 429, "Customer login locked")
        assert (await log_in(client, elsewhere, "li.na")).status_code == 200

    async def test_sandbox_customers_are_per_partner(self, client: httpx.AsyncClient) -> None:
        """In the sandbox each partner's zhang.wei is a different synthetic person: locking
        one partner's does not lock another partner's."""
        school, hospital = await sandbox_partner(client, "A"), await sandbox_partner(client, "B")
        form = await login_form(client, school, await pushed_request_uri(client, school))
        for _ in range(4):
            assert (await log_in(client, form, password="guess")).status_code == 401
        form = await login_form(client, school, await pushed_request_uri(client, school))
        assert_page(await log_in(client, form, password="guess"), 429, "Customer login locked")
        other = await login_form(client, hospital, await pushed_request_uri(client, hospital))
        assert (await log_in(client, other)).status_code == 200

    async def test_concurrent_guesses_cannot_outrun_the_limit(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """Twenty simultaneous guesses on one request: at most five passwords are checked,
        every other guess is refused as locked; a fresh request still works."""
        provider = BankWideCustomers(services_of(app).customer_auth)  # type: ignore[arg-type]
        install(app, provider)
        partner = await sandbox_partner(client)
        form = await login_form(client, partner, await pushed_request_uri(client, partner))
        results = await asyncio.gather(
            *(log_in(client, form, f"nobody{n}", "guess") for n in range(20))
        )
        statuses = [r.status_code for r in results]
        assert provider.checked <= 5, statuses
        assert set(statuses) <= {401, 429}
        assert statuses.count(429) >= 15
        provider.checked = 0
        fresh = await login_form(
            client, partner, await pushed_request_uri(client, partner, payment=True)
        )
        assert (await log_in(client, fresh)).status_code == 200
        assert provider.checked == 1


class TestCodeLimits:
    async def test_wrong_codes_lock_request_and_customer(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """Three wrong one-time codes lock the request (the right code is then refused and
        the consent stays unauthorised) and the customer; another customer still can."""
        partner = await sandbox_partner(client)
        request_uri = await pushed_request_uri(client, partner, payment=True)
        form = await otp_form(client, partner, request_uri)
        for _ in range(2):
            wrong = await submit(client, form, code="000000")
            assert wrong.status_code == 401
            form = Form(wrong.text)
        third = await submit(client, form, code="000000")
        assert_back_link(assert_page(third, 429, "Authorization locked"), "access_denied")
        assert_page(await submit(client, form, code="123456"), 429, "Authorization locked")
        assert await consent_status(app, request_uri) == "AwaitingAuthorisation"
        again = await login_form(client, partner, await pushed_request_uri(client, partner))
        assert_page(await log_in(client, again), 429, "Customer login locked")
        other = await pushed_request_uri(client, partner, payment=True)
        page = await log_in(client, await login_form(client, partner, other), "li.na")
        right = await submit(client, Form(page.text), code="123456")
        assert Form(right.text).action.endswith("/oauth/authorize/decision")


class TestRequestExpiry:
    async def test_interaction_expires_with_the_request(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """The interaction token never outlives the pushed request, and a failed attempt
        re-issues it with the same expiry."""
        partner = await sandbox_partner(client)
        request_uri = await pushed_request_uri(client, partner)
        form = await login_form(client, partner, request_uri)
        async with services_of(app).db.read() as conn:
            row = (
                await conn.execute(
                    authorization_requests.select().where(
                        authorization_requests.c.id == sha256_hex(request_uri)
                    )
                )
            ).one()
        expires = interaction_claims(form)["exp"]
        assert expires <= row.expires_at.timestamp() <= time.time() + 90
        wrong = await log_in(client, form, password="guess")
        assert interaction_claims(Form(wrong.text))["exp"] == expires
        consent_page = await log_in(client, Form(wrong.text))
        assert interaction_claims(Form(consent_page.text))["exp"] == expires

    @pytest.mark.parametrize("step", ["login", "otp", "decision"])
    async def test_expired_request_refused_at_every_step(
        self, app: FastAPI, client: httpx.AsyncClient, step: str
    ) -> None:
        """Once its 90 s are over a pushed request cannot be completed at any step: a page
        leads back to the partner with invalid_request_uri, and no code is issued."""
        partner = await sandbox_partner(client)
        control = await pushed_request_uri(client, partner, payment=True)
        done = await approve(client, await consent_form(client, partner, control, payment=True))
        assert done.status_code == 303
        request_uri = await pushed_request_uri(client, partner, payment=True)
        if step == "login":
            form, fields = (
                await login_form(client, partner, request_uri),
                {
                    "username": "zhang.wei",
                    "password": "sandbox",
                },
            )
        elif step == "otp":
            form, fields = await otp_form(client, partner, request_uri), {"code": "123456"}
        else:
            form = await consent_form(client, partner, request_uri, payment=True)
            fields = {"decision": "approve", "accounts": form.radios[0][1]}
        await expire(app, request_uri)
        late = await submit(client, form, **fields)
        assert_back_link(assert_page(late, 410, "Authorization expired"), "invalid_request_uri")
        assert await consent_status(app, request_uri) == "AwaitingAuthorisation"

    async def test_expired_interaction_refused(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """An interaction token of ours past its expiry is refused with a link back; the
        same token unexpired is accepted."""
        partner = await sandbox_partner(client)
        request_uri = await pushed_request_uri(client, partner)
        interactions = Interactions(services_of(app).secret)

        def token(expires_at: int) -> str:
            return interactions.issue(
                Interaction("login", request_uri, partner.client_id, partner.partner_id, expires_at)
            )

        action = "/oauth/authorize/login"
        fields = {"username": "zhang.wei", "password": "sandbox"}
        stale = await client.post(
            action, data={"interaction": token(int(time.time()) - 1), **fields}
        )
        assert_back_link(assert_page(stale, 410, "Authorization expired"), "invalid_request_uri")
        fresh = await client.post(
            action, data={"interaction": token(int(time.time()) + 60), **fields}
        )
        assert fresh.status_code == 200, fresh.text


class TestDynamicLinking:
    async def test_terms_shown_with_the_code_and_the_consent(
        self, client: httpx.AsyncClient
    ) -> None:
        """The code prompt and the consent step show amount, currency, creditor, masked
        creditor account and reference; never the creditor's full account number."""
        partner = await sandbox_partner(client)
        request_uri = await pushed_request_uri(client, partner, payment=True)
        otp = await log_in(client, await login_form(client, partner, request_uri))
        decision = await submit(client, Form(otp.text), code="123456")
        for page in (otp, decision):
            assert page.status_code == 200
            for shown in ("120.00 CNY", "市医院", "622202*********3445", "Bill 42"):
                assert shown in page.text
            assert "6222020200112233445" not in page.text

    async def test_code_bound_to_the_terms(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        """The right code is refused once the consent's stored terms differ from those it
        was sent for; with the terms unchanged it is accepted."""
        partner = await sandbox_partner(client)
        control = await pushed_request_uri(client, partner, payment=True)
        accepted = await submit(client, await otp_form(client, partner, control), code="123456")
        assert Form(accepted.text).action.endswith("/oauth/authorize/decision")
        request_uri = await pushed_request_uri(client, partner, payment=True)
        form = await otp_form(client, partner, request_uri)
        await change_payment(app, request_uri, amount={"value": "9120.00", "currency": "CNY"})
        refused = await submit(client, form, code="123456")
        assert refused.status_code == 401
        assert "9120.00 CNY" in refused.text

    async def test_approval_bound_to_the_confirmed_terms(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """Terms changed after the code was confirmed cannot be approved: the consent stays
        unauthorised; unchanged terms are approved."""
        partner = await sandbox_partner(client)
        control = await pushed_request_uri(client, partner, payment=True)
        done = await approve(client, await consent_form(client, partner, control, payment=True))
        assert done.status_code == 303
        assert "code" in httpx.URL(done.headers["location"]).params
        request_uri = await pushed_request_uri(client, partner, payment=True)
        form = await consent_form(client, partner, request_uri, payment=True)
        await change_payment(
            app, request_uri, creditor={"account_number": "6222029999999999999", "name": "某公司"}
        )
        refused = await approve(client, form)
        page = assert_page(refused, 410, "Consent no longer available")
        assert_back_link(page, "invalid_request")
        assert await consent_status(app, request_uri) == "AwaitingAuthorisation"


class TestInactivePartners:
    @pytest.mark.parametrize("step", ["authorize", "login", "decision"])
    async def test_suspended_partner_cannot_complete(
        self, app: FastAPI, client: httpx.AsyncClient, step: str
    ) -> None:
        """Once its partner is suspended, a pending request is refused at every step with a
        page that does not lead back to the partner, and the consent is not authorised;
        another partner's request completes."""
        partner, other = await sandbox_partner(client, "A"), await sandbox_partner(client, "B")
        request_uri = await pushed_request_uri(client, partner)
        login = await login_form(client, partner, request_uri)
        decision = await consent_form(client, partner, await pushed_request_uri(client, partner))
        assert await services_of(app).registry.suspend_partner(partner.partner_id)
        if step == "authorize":
            refused = await client.get(
                "/oauth/authorize",
                params={"client_id": partner.client_id, "request_uri": request_uri},
            )
        elif step == "login":
            refused = await log_in(client, login)
        else:
            refused = await approve(client, decision)
        assert_page(refused, 403, "Partner suspended")
        assert Form(refused.text).links == []
        assert "location" not in refused.headers
        other_uri = await pushed_request_uri(client, other)
        done = await approve(client, await consent_form(client, other, other_uri))
        assert done.status_code == 303

    async def test_revoked_client_refused(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        """A revoked client's pending request, which opened before, shows the suspended
        page."""
        partner = await sandbox_partner(client)
        request_uri = await pushed_request_uri(client, partner)
        assert (
            await log_in(client, await login_form(client, partner, request_uri))
        ).status_code == 200
        assert await services_of(app).registry.revoke_client(partner.client_id)
        reopened = await client.get(
            "/oauth/authorize", params={"client_id": partner.client_id, "request_uri": request_uri}
        )
        assert_page(reopened, 403, "Partner suspended")

    async def test_sandbox_authorize_refused_for_suspended_partner(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """/sandbox/authorize does not complete a suspended partner's request."""
        partner = await sandbox_partner(client)
        control = await pushed_request_uri(client, partner)
        body = {"request_uri": control, "customer": "zhang.wei"}
        assert (
            await client.post("/sandbox/authorize", auth=partner.basic, json=body)
        ).status_code == 200
        request_uri = await pushed_request_uri(client, partner)
        await services_of(app).registry.suspend_partner(partner.partner_id)
        body = {"request_uri": request_uri, "customer": "zhang.wei"}
        refused = await client.post("/sandbox/authorize", auth=partner.basic, json=body)
        assert refused.status_code in (400, 401, 403)
        with pytest.raises(RequestUnusable) as unusable:
            await services_of(app).flow.pending(partner.client_id, request_uri)
        assert unusable.value.reason is Unusable.CLIENT_INACTIVE
        assert await consent_status(app, request_uri) == "AwaitingAuthorisation"


@pytest.fixture
async def environment(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A strict-profile gateway on the sandbox core, in the parametrised environment."""
    settings = make_settings(
        tmp_path, environment=request.param, core="sandbox", fapi_profile="strict"
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.issuer) as http:
            yield app, http


async def par_with_key(app: FastAPI, client: httpx.AsyncClient) -> httpx.Response:
    """A private_key_jwt client pushes a request for a fresh consent of its own."""
    services = services_of(app)
    partner = await services.registry.create_partner("政务服务平台", "government")
    key = await key_client(app, partner.id, ["accounts", "consents"])
    consent = await services.consents.create(
        partner_id=partner.id,
        client_id=key.client_id,
        type=ConsentType.ACCOUNT_ACCESS,
        permissions=["ReadAccountsBasic"],
        expires_at=None,
    )
    _, challenge = pkce_pair()
    return await client.post(
        "/oauth/par",
        data={
            "response_type": "code",
            "client_id": key.client_id,
            "redirect_uri": CALLBACK,
            "scope": "accounts",
            "state": "xyz",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "consent_id": consent.id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": client_assertion(key, str(client.base_url)),
        },
    )


class TestProductionCustomerLogin:
    @pytest.mark.parametrize("environment", ["production"], indirect=True)
    async def test_no_sandbox_customers_in_production(
        self, environment: tuple[FastAPI, httpx.AsyncClient]
    ) -> None:
        """In production without a provider the sandbox's customers do not exist: PAR for a
        customer scope is refused with a clear OAuth error and the authorize page says that
        customer login is not available."""
        app, client = environment
        assert services_of(app).customer_auth is None
        refused = await par_with_key(app, client)
        assert refused.status_code == 503, refused.text
        body = refused.json()
        assert body["error"] == "temporarily_unavailable"
        assert body["code"] == "customer-login-unavailable"
        page = await client.get(
            "/oauth/authorize",
            params={"client_id": "cli_x", "request_uri": "urn:ietf:params:oauth:request_uri:x"},
        )
        form = assert_page(page, 503, "Customer login unavailable")
        assert "本行目前无法提供客户登录" in page.text
        assert form.links == []
        assert "zhang.wei" not in page.text

    @pytest.mark.parametrize("environment", ["sandbox"], indirect=True)
    async def test_sandbox_accepts_the_same_request(
        self, environment: tuple[FastAPI, httpx.AsyncClient]
    ) -> None:
        """The same pushed request, built the same way, is accepted in the sandbox."""
        app, client = environment
        assert services_of(app).customer_auth is not None
        pushed = await par_with_key(app, client)
        assert pushed.status_code == 201, pushed.text


class TestErrorPages:
    async def test_unknown_request_has_no_link(self, client: httpx.AsyncClient) -> None:
        """An unknown request_uri, another client's request_uri or missing parameters get a
        bilingual page with no link; the client's own request opens the login page."""
        partner, stranger = await sandbox_partner(client, "A"), await sandbox_partner(client, "B")
        request_uri = await pushed_request_uri(client, partner)
        cases = [
            {"client_id": partner.client_id, "request_uri": "urn:ietf:params:oauth:request_uri:x"},
            {"client_id": stranger.client_id, "request_uri": request_uri},
            {"client_id": partner.client_id},
        ]
        for params in cases:
            page = await client.get("/oauth/authorize", params=params)
            form = assert_page(page, 400, "Authorization link not valid")
            assert "该授权链接" in page.text
            assert form.links == []
        assert (await login_form(client, partner, request_uri)).action

    async def test_used_request_leads_back(self, client: httpx.AsyncClient) -> None:
        """A request_uri already used gets a page (410) leading back to the partner with
        invalid_request_uri, state and iss."""
        partner = await sandbox_partner(client)
        request_uri = await pushed_request_uri(client, partner)
        body = {"request_uri": request_uri, "customer": "zhang.wei"}
        assert (
            await client.post("/sandbox/authorize", auth=partner.basic, json=body)
        ).status_code == 200
        page = await client.get(
            "/oauth/authorize", params={"client_id": partner.client_id, "request_uri": request_uri}
        )
        assert_back_link(
            assert_page(page, 410, "Authorization already completed"), "invalid_request_uri"
        )

    @pytest.mark.parametrize(
        ("name", "back"),
        [("Sunshine School", "返回 Sunshine School"), ("阳光小学", "返回阳光小学")],
    )
    async def test_back_link_names_the_partner(
        self, client: httpx.AsyncClient, name: str, back: str
    ) -> None:
        """The link back names the partner, set off by a space when its name is in Latin
        letters (Chinese text runs into a Chinese name)."""
        partner = await sandbox_partner(client, name)
        request_uri = await pushed_request_uri(client, partner)
        body = {"request_uri": request_uri, "customer": "zhang.wei"}
        assert (
            await client.post("/sandbox/authorize", auth=partner.basic, json=body)
        ).status_code == 200
        page = await client.get(
            "/oauth/authorize", params={"client_id": partner.client_id, "request_uri": request_uri}
        )
        assert page.status_code == 410
        assert back + " " in page.text
        assert f"Back to {name}" in page.text

    async def test_forged_interaction_has_no_link(self, client: httpx.AsyncClient) -> None:
        """An interaction token we did not sign gets a page without a link at every step."""
        for action in ("login", "otp", "decision"):
            page = await client.post(
                f"/oauth/authorize/{action}",
                data={"interaction": "eyJhbGciOiJIUzI1NiJ9.e30.forged", "code": "123456"},
            )
            assert assert_page(page, 400, "Authorization page not valid").links == []

    async def test_refusals_logged_with_their_code(
        self, capfd: pytest.CaptureFixture[str], client: httpx.AsyncClient
    ) -> None:
        """A refused page's request line names its problem code."""
        json_lines(capfd)
        await client.get(
            "/oauth/authorize",
            params={"client_id": "cli_x", "request_uri": "urn:ietf:params:oauth:request_uri:x"},
        )
        lines = [line for line in json_lines(capfd) if line.get("event") == "request"]
        assert lines[-1]["problem"] == "authorization-request-invalid"
        assert lines[-1]["status"] == 400


class TestSecurityEvents:
    @pytest.mark.parametrize("backend", ["sqlite"])
    async def test_failures_are_security_events(
        self, capfd: pytest.CaptureFixture[str], client: httpx.AsyncClient
    ) -> None:
        """Each wrong password or code and each lock-out is a security event line and a
        counter; no line carries the password, the code or the request_uri."""
        partner = await sandbox_partner(client)
        request_uri = await pushed_request_uri(client, partner, payment=True)
        json_lines(capfd)
        form = await login_form(client, partner, request_uri)
        wrong = await log_in(client, form, password="hunter2-secret")
        otp = await log_in(client, Form(wrong.text))
        form = Form(otp.text)
        for _ in range(3):
            page = await submit(client, form, code="987650")
            form = Form(page.text) if page.status_code == 401 else form
        lines = json_lines(capfd)
        events = [line for line in lines if line.get("event") == "security_event"]
        kinds = [e["kind"] for e in events]
        assert kinds == [
            "login_failed",
            "otp_failed",
            "otp_failed",
            "otp_failed",
            "authorization_locked",
            "customer_locked",
        ]
        for event in events:
            assert event["partner_id"] == partner.partner_id
            assert event["client_id"] == partner.client_id
            assert event["login"] == "z***i"
            assert event["authorization_request"] == sha256_hex(request_uri)
            assert event["request_id"]
        output = repr(lines)
        for secret in ("hunter2-secret", "987650", "123456", request_uri, "zhang.wei"):
            assert secret not in output
        metrics = (await client.get("/metrics")).text
        assert 'obgw_security_events_total{kind="otp_failed"} 3.0' in metrics
        assert 'obgw_security_events_total{kind="login_failed"} 1.0' in metrics
