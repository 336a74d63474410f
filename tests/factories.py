"""Builders shared by the tests: sandbox partners, key-based clients, DPoP proofs, consents."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI
from joserfc import jws, jwt
from joserfc.jwk import ECKey, RSAKey
from requests_oauth2client import DPoPKey

from gateway.app import create_app
from gateway.services import Services
from gateway.settings import Settings

CALLBACK = "http://127.0.0.1/callback"
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass
class Partner:
    partner_id: str
    client_id: str
    client_secret: str

    @property
    def basic(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(self.client_id, self.client_secret)


def services_of(app: FastAPI) -> Services:
    services: Services = app.state.services
    return services


async def sandbox_partner(client: httpx.AsyncClient, name: str = "阳光小学") -> Partner:
    """Sign up through the public sandbox endpoint."""
    response = await client.post(
        "/sandbox/signup",
        json={"partner_name": name, "sector": "school", "contact_email": "it@school.example"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Partner(body["partner_id"], body["client_id"], body["client_secret"])


@dataclass
class KeyClient:
    client_id: str
    partner_id: str
    key: ECKey


async def key_client(
    app: FastAPI, partner_id: str, scopes: list[str], redirect_uris: list[str] | None = None
) -> KeyClient:
    """A private_key_jwt client registered with a fresh P-256 key."""
    key = ECKey.generate_key("P-256", parameters={"kid": "client-key-1"})
    issued = await services_of(app).registry.create_client(
        partner_id=partner_id,
        scopes=scopes,
        redirect_uris=redirect_uris or [CALLBACK],
        jwks={"keys": [key.as_dict(private=False)]},
    )
    return KeyClient(issued.client.client_id, partner_id, key)


def client_assertion(
    client: KeyClient,
    audience: str,
    *,
    jti: str | None = None,
    key: ECKey | None = None,
    alg: str = "ES256",
    lifetime: int = 60,
) -> str:
    now = int(time.time())
    claims = {
        "iss": client.client_id,
        "sub": client.client_id,
        "aud": audience,
        "jti": jti or secrets.token_urlsafe(12),
        "iat": now,
        "exp": now + lifetime,
    }
    return jwt.encode(
        {"alg": alg, "kid": "client-key-1"}, claims, key or client.key, algorithms=[alg]
    )


@functools.cache
def rsa_private(bits: int, exponent: int = 65537) -> rsa.RSAPrivateKey:
    """An RSA key (1024 bits and up, any small exponent), generated once per run: generation
    is slow."""
    return rsa.generate_private_key(public_exponent=exponent, key_size=bits)


def joserfc_rsa(bits: int) -> RSAKey:
    return RSAKey.import_key(rsa_private(bits))


def ec_private(curve: ec.EllipticCurve | None = None) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(curve or ec.SECP256R1())


def octets(value: int, size: int | None = None) -> str:
    """A big-endian integer as unpadded base64url, as JWKs write them."""
    raw = value.to_bytes(size or (value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_jwk(private: PrivateKey) -> dict[str, Any]:
    """The public JWK of a `cryptography` key, whatever its size or curve."""
    numbers = private.public_key().public_numbers()
    if isinstance(numbers, rsa.RSAPublicNumbers):
        return {"kty": "RSA", "n": octets(numbers.n), "e": octets(numbers.e)}
    size = (numbers.curve.key_size + 7) // 8
    crv = {256: "P-256", 384: "P-384", 521: "P-521"}[numbers.curve.key_size]
    return {"kty": "EC", "crv": crv, "x": octets(numbers.x, size), "y": octets(numbers.y, size)}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def dpop_proof(key: DPoPKey, method: str, url: str, access_token: str | None = None) -> str:
    """A proof made by an independent DPoP implementation (requests-oauth2client)."""
    ath = None
    if access_token is not None:
        digest = hashlib.sha256(access_token.encode()).digest()
        ath = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return str(key.proof(method, url, ath))


async def partner_token(client: httpx.AsyncClient, partner: Partner, scope: str) -> str:
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=partner.basic,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def partner_claims(app: FastAPI, partner: Partner, **overrides: Any) -> dict[str, Any]:
    """The claims the gateway itself puts in a `products` client-credentials token."""
    now = int(time.time())
    issuer = services_of(app).settings.issuer
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": issuer,
        "sub": partner.client_id,
        "client_id": partner.client_id,
        "partner_id": partner.partner_id,
        "scope": "products",
        "jti": "at_" + secrets.token_hex(8),
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def gateway_signed(
    app: FastAPI, claims: Mapping[str, Any], *, key: ECKey | RSAKey | None = None, **header: Any
) -> str:
    """A compact JWS over `claims`, by default signed with the gateway's active key (`kid`
    and `alg` may be given in `header` with another `key`)."""
    keys = services_of(app).keys
    active = keys.active
    protected = {"alg": active.alg, "kid": active.kid, "typ": "at+jwt", **header}
    protected = {k: v for k, v in protected.items() if v is not None}
    signer = key or keys.private_key(active.kid)
    payload = json.dumps(dict(claims)).encode()
    return jws.serialize_compact(protected, payload, signer, algorithms=[protected["alg"]])


async def consent(
    client: httpx.AsyncClient,
    token: str,
    permissions: list[str] | None = None,
    type_: str = "account_access",
    **extra: Any,
) -> str:
    response = await client.post(
        "/v1/consents",
        json={
            "type": type_,
            "permissions": permissions
            or ["ReadAccountsBasic", "ReadAccountsDetail", "ReadBalances"],
            **extra,
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["consent_id"])


async def pushed_form(
    client: httpx.AsyncClient,
    partner: Partner,
    *,
    permissions: list[str] | None = None,
    dpop_jkt: str | None = None,
) -> tuple[str, dict[str, str], str]:
    """A new consent and the PAR form that asks the customer for it: (consent id, form,
    PKCE verifier)."""
    token = await partner_token(client, partner, "consents")
    consent_id = await consent(client, token, permissions)
    verifier, challenge = pkce_pair()
    form = {
        "response_type": "code",
        "client_id": partner.client_id,
        "redirect_uri": CALLBACK,
        "scope": "accounts",
        "state": "s-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "consent_id": consent_id,
    }
    if dpop_jkt is not None:
        form["dpop_jkt"] = dpop_jkt
    return consent_id, form, verifier


@dataclass
class CustomerGrant:
    access_token: str
    refresh_token: str
    consent_id: str
    dpop_key: DPoPKey | None


async def customer_grant(
    client: httpx.AsyncClient,
    partner: Partner,
    *,
    customer: str = "zhang.wei",
    dpop: bool = True,
    permissions: list[str] | None = None,
) -> CustomerGrant:
    """Consent → PAR → /sandbox/authorize → token: a customer-consented access token."""
    key = DPoPKey.generate(alg="ES256") if dpop else None
    consent_id, form, verifier = await pushed_form(
        client, partner, permissions=permissions, dpop_jkt=key.dpop_jkt if key else None
    )
    par = await client.post("/oauth/par", data=form, auth=partner.basic)
    assert par.status_code == 201, par.text
    return await approve_and_exchange(
        client, partner, par.json()["request_uri"], verifier, consent_id, key, customer
    )


async def approve_and_exchange(
    client: httpx.AsyncClient,
    partner: Partner,
    request_uri: str,
    verifier: str,
    consent_id: str,
    key: DPoPKey | None,
    customer: str = "zhang.wei",
) -> CustomerGrant:
    """The customer approves a pushed request (`/sandbox/authorize`); the code becomes tokens
    (DPoP-bound with `key`)."""
    approved = await client.post(
        "/sandbox/authorize",
        json={"request_uri": request_uri, "customer": customer},
        auth=partner.basic,
    )
    assert approved.status_code == 200, approved.text
    code = httpx.URL(approved.json()["redirect_to"]).params["code"]
    headers = {}
    if key is not None:
        headers["DPoP"] = dpop_proof(key, "POST", str(client.base_url) + "/oauth/token")
    issued = await client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        auth=partner.basic,
        headers=headers,
    )
    assert issued.status_code == 200, issued.text
    body = issued.json()
    return CustomerGrant(body["access_token"], body["refresh_token"], consent_id, key)


@dataclass
class PaymentGrant:
    """A customer's payment consent, its DPoP-bound token and what a payment must send."""

    grant: CustomerGrant
    terms: dict[str, Any]
    debtor_account_id: str

    def body(self, **overrides: Any) -> dict[str, Any]:
        """The `POST /v1/payments` body the consent allows (with `overrides`)."""
        return {
            "consent_id": self.grant.consent_id,
            "debtor_account_id": self.debtor_account_id,
            **self.terms,
            **overrides,
        }


async def payment_grant(
    client: httpx.AsyncClient,
    partner: Partner,
    value: str = "120.00",
    *,
    customer: str = "zhang.wei",
    **terms: Any,
) -> PaymentGrant:
    """Payment consent → PAR → /sandbox/authorize → DPoP-bound token for `value` CNY."""
    payment = {**PAYMENT, "amount": {"value": value, "currency": "CNY"}, **terms}
    consent_id = await payment_consent(client, partner, payment)
    key = DPoPKey.generate(alg="ES256")
    par, verifier = await push(client, partner, consent_id, scope="payments", dpop_jkt=key.dpop_jkt)
    assert par.status_code == 201, par.text
    grant = await approve_and_exchange(
        client, partner, par.json()["request_uri"], verifier, consent_id, key, customer
    )
    read = await client.get(
        f"/v1/consents/{consent_id}",
        headers={"Authorization": f"Bearer {await partner_token(client, partner, 'consents')}"},
    )
    debtor = read.json()["account_ids"][0]
    return PaymentGrant(grant, payment, debtor)


def customer_headers(
    client: httpx.AsyncClient, grant: CustomerGrant, method: str, path: str
) -> dict[str, str]:
    if grant.dpop_key is None:
        return {"Authorization": f"Bearer {grant.access_token}"}
    url = str(client.base_url) + path
    return {
        "Authorization": f"DPoP {grant.access_token}",
        "DPoP": dpop_proof(grant.dpop_key, method, url, grant.access_token),
    }


async def customer_get(
    client: httpx.AsyncClient, grant: CustomerGrant, path: str, **params: str | int
) -> httpx.Response:
    """`GET path?params` with the customer's token (and a DPoP proof for the path, since
    `htu` leaves out the query, RFC 9449 §4.3)."""
    return await client.get(
        path, params=params, headers=customer_headers(client, grant, "GET", path)
    )


async def eventually_status(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], status: int, within: float
) -> float:
    started = time.monotonic()
    while True:
        response = await client.get(path, headers=headers)
        elapsed = time.monotonic() - started
        if response.status_code == status:
            return elapsed
        assert elapsed < within, f"still {response.status_code} after {elapsed:.2f}s"
        await asyncio.sleep(0.05)


async def ops_token(app: FastAPI, client: httpx.AsyncClient, scope: str = "ops:read") -> str:
    """A client-credentials token of a new operations client."""
    issued = await services_of(app).registry.create_client(
        partner_id=None, scopes=["ops:read", "ops:admin"], kind="ops", name="ops"
    )
    assert issued.client_secret is not None
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(issued.client.client_id, issued.client_secret),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def json_lines(capture: Any) -> list[dict[str, Any]]:
    """The JSON log lines written to standard output so far (pending lines flushed first)."""
    import json

    from gateway.telemetry.logging import flush

    flush()
    output = capture.readouterr().out
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@asynccontextmanager
async def replicas(
    settings: Settings, count: int = 2
) -> AsyncIterator[list[tuple[FastAPI, httpx.AsyncClient]]]:
    """`count` gateway instances on the same database, data directory and secret."""
    async with AsyncExitStack() as stack:
        running = []
        for _ in range(count):
            application = create_app(settings)
            await stack.enter_async_context(application.router.lifespan_context(application))
            transport = httpx.ASGITransport(app=application)
            http = httpx.AsyncClient(transport=transport, base_url=settings.issuer)
            await stack.enter_async_context(http)
            running.append((application, http))
        yield running


# --- the authorize pages --------------------------------------------------------------------

PAYMENT = {
    "amount": {"value": "120.00", "currency": "CNY"},
    "creditor": {"account_number": "6222020200112233445", "name": "市医院"},
    "reference": "Bill 42",
}


class Form(HTMLParser):
    """The first form of a page: its action, hidden fields, checkboxes, radio buttons (with
    whether each is checked) and buttons, and the page's links."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.checkboxes: list[tuple[str, str]] = []
        self.radios: list[tuple[str, str, bool]] = []
        self.buttons: list[tuple[str, str]] = []
        self.links: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and not self.action:
            self.action = a.get("action", "")
        elif tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "input" and a.get("type") == "checkbox":
            self.checkboxes.append((a["name"], a.get("value", "")))
        elif tag == "input" and a.get("type") == "radio":
            self.radios.append((a["name"], a.get("value", ""), "checked" in a))
        elif tag == "button" and a.get("name"):
            self.buttons.append((a["name"], a.get("value", "")))
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])


async def push(
    client: httpx.AsyncClient,
    partner: Partner,
    consent_id: str,
    overrides: dict[str, str] | None = None,
    **extra: str,
) -> tuple[httpx.Response, str]:
    """A pushed authorization request for the consent; `<omit>` leaves a parameter out."""
    verifier, challenge = pkce_pair()
    form = {
        "response_type": "code",
        "client_id": partner.client_id,
        "redirect_uri": CALLBACK,
        "scope": "accounts",
        "state": "xyz",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "consent_id": consent_id,
        **(overrides or {}),
        **extra,
    }
    form = {k: v for k, v in form.items() if v != "<omit>"}
    return await client.post("/oauth/par", data=form, auth=partner.basic), verifier


async def payment_consent(
    client: httpx.AsyncClient, partner: Partner, payment: dict[str, Any] | None = None
) -> str:
    """A payment consent (it moves funds, so the pages ask for a one-time code)."""
    token = await partner_token(client, partner, "consents")
    return await consent(client, token, ["InitiatePayments"], "payment", payment=payment or PAYMENT)


async def pushed_request_uri(
    client: httpx.AsyncClient, partner: Partner, *, payment: bool = False
) -> str:
    """A fresh consent (a payment one with `payment`) pushed; its request_uri."""
    if payment:
        consent_id = await payment_consent(client, partner)
        par, _ = await push(client, partner, consent_id, scope="payments")
    else:
        token = await partner_token(client, partner, "consents")
        par, _ = await push(client, partner, await consent(client, token))
    assert par.status_code == 201, par.text
    return str(par.json()["request_uri"])


async def login_form(client: httpx.AsyncClient, partner: Partner, request_uri: str) -> Form:
    """The login form of the authorize page for a pushed request."""
    page = await client.get(
        "/oauth/authorize", params={"client_id": partner.client_id, "request_uri": request_uri}
    )
    assert page.status_code == 200, page.text
    form = Form(page.text)
    assert form.action.endswith("/oauth/authorize/login")
    return form


async def submit(client: httpx.AsyncClient, form: Form, **fields: str) -> httpx.Response:
    """Post a page's form with its hidden fields and `fields`."""
    return await client.post(form.action, data={**form.fields, **fields})


async def log_in(
    client: httpx.AsyncClient, form: Form, username: str = "zhang.wei", password: str = "sandbox"
) -> httpx.Response:
    return await submit(client, form, username=username, password=password)


def interaction_claims(form: Form) -> dict[str, Any]:
    """The claims of a page's interaction token (read, not verified)."""
    payload = form.fields["interaction"].split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


async def approve(client: httpx.AsyncClient, form: Form) -> httpx.Response:
    """Approve on the consent page as a browser would, leaving the choice as offered: every
    account box checked, or the pre-selected account of a payment."""
    data: dict[str, Any] = {**form.fields, "decision": "approve"}
    data["accounts"] = [value for name, value in form.checkboxes if name == "accounts"] + [
        value for name, value, checked in form.radios if name == "accounts" and checked
    ]
    return await client.post(form.action, data=data)


async def pushed_request(
    client: httpx.AsyncClient, partner: Partner, *, permissions: list[str] | None = None
) -> tuple[str, str]:
    """A consent and its pushed authorization request: the `request_uri` and PKCE verifier."""
    token = await partner_token(client, partner, "consents")
    consent_id = await consent(client, token, permissions)
    verifier, challenge = pkce_pair()
    par = await client.post(
        "/oauth/par",
        data={
            "response_type": "code",
            "client_id": partner.client_id,
            "redirect_uri": CALLBACK,
            "scope": "accounts",
            "state": "s-1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "consent_id": consent_id,
        },
        auth=partner.basic,
    )
    assert par.status_code == 201, par.text
    return str(par.json()["request_uri"]), verifier
