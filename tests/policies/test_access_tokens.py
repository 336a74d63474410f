"""Access tokens and DPoP proofs at the resource routes: every forgery or misuse is refused.

Each negative test has a positive control built the same way, so a rejection cannot come
from a broken builder instead of the property under test.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jws
from joserfc.jwk import ECKey
from requests_oauth2client import DPoPKey

from gateway.app import create_app
from gateway.oauth.schemas import ASSERTION_TYPE
from gateway.settings import Settings
from tests.conftest import REDIS_URL, make_settings, service_missing
from tests.factories import (
    CustomerGrant,
    Partner,
    client_assertion,
    customer_grant,
    customer_headers,
    dpop_proof,
    gateway_signed,
    key_client,
    partner_claims,
    partner_token,
    sandbox_partner,
    services_of,
)

PRODUCTS = "/v1/products/deposits"
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "instance", "code", "errors"}


# --- builders -------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Mapping[str, Any]) -> str:
    return b64url(json.dumps(dict(value), separators=(",", ":")).encode())


def bound_key(grant: CustomerGrant) -> ECKey:
    """The customer grant's DPoP private key, as a joserfc key."""
    assert grant.dpop_key is not None
    return ECKey.import_key(grant.dpop_key.private_key.to_dict())


def hand_proof(
    key: ECKey,
    method: str,
    url: str,
    access_token: str | None,
    *,
    typ: str | None = "dpop+jwt",
    jwk: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    """A DPoP proof built field by field, so that one field at a time can be wrong."""
    body: dict[str, Any] = {
        "jti": secrets.token_urlsafe(16),
        "htm": method,
        "htu": url,
        "iat": int(time.time()),
    }
    if access_token is not None:
        body["ath"] = b64url(hashlib.sha256(access_token.encode()).digest())
    body.update(claims)
    header: dict[str, Any] = {"alg": "ES256", "jwk": jwk or key.as_dict(private=False)}
    if typ is not None:
        header["typ"] = typ
    return jws.serialize_compact(header, json.dumps(body).encode(), key, algorithms=["ES256"])


async def first_account(client: httpx.AsyncClient, grant: CustomerGrant) -> str:
    listed = await client.get(
        "/v1/accounts", headers=customer_headers(client, grant, "GET", "/v1/accounts")
    )
    assert listed.status_code == 200, listed.text
    return str(listed.json()["data"][0]["account_id"])


def balances_path(account_id: str) -> str:
    return f"/v1/accounts/{account_id}/balances"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """An RFC 9457 problem with this status and code, and nothing else in the body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["type"] == f"/problems/{code}"
    assert set(body) <= PROBLEM_MEMBERS, body
    return body


def assert_invalid_token(
    response: httpx.Response,
    *,
    token: str | None = None,
    scheme: str | None = None,
    code: str = "invalid-token",
) -> str:
    """A 401 problem (`code`) with a challenge, no data and no echo of the token."""
    assert_problem(response, 401, code)
    challenge = response.headers.get("www-authenticate")
    assert challenge, "a 401 must carry WWW-Authenticate"
    if scheme is not None:
        assert challenge.startswith(f"{scheme} "), challenge
    assert "CNY" not in response.text
    assert '"data"' not in response.text
    if token is not None:
        assert token not in response.text
        assert token not in challenge
    return challenge


def assert_invalid_proof(response: httpx.Response, *, token: str | None = None) -> str:
    """A 401 `invalid-dpop-proof` problem with a DPoP challenge naming the proof error."""
    challenge = assert_invalid_token(
        response, token=token, scheme="DPoP", code="invalid-dpop-proof"
    )
    assert 'error="invalid_dpop_proof"' in challenge
    return challenge


async def customer_setup(
    client: httpx.AsyncClient, **kwargs: Any
) -> tuple[Partner, CustomerGrant, str]:
    partner = await sandbox_partner(client)
    grant = await customer_grant(client, partner, **kwargs)
    return partner, grant, await first_account(client, grant)


async def read_balances(
    client: httpx.AsyncClient, grant: CustomerGrant, account_id: str
) -> httpx.Response:
    path = balances_path(account_id)
    return await client.get(path, headers=customer_headers(client, grant, "GET", path))


# --- forged and malformed access tokens -----------------------------------------------------


class TestForgedAccessTokens:
    async def test_gateway_signed_token_is_accepted(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """Positive control: a token built like the forgeries but valid reads products."""
        partner = await sandbox_partner(client)
        token = gateway_signed(app, partner_claims(app, partner))
        response = await client.get(PRODUCTS, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        assert response.json()["data"]

    async def test_issued_partner_token_is_accepted(self, client: httpx.AsyncClient) -> None:
        """Positive control: a token from /oauth/token reads products."""
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "products")
        response = await client.get(PRODUCTS, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text

    async def test_alg_none_is_rejected(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        """An unsigned token (`alg: none`) is refused."""
        partner = await sandbox_partner(client)
        header = {"alg": "none", "typ": "at+jwt", "kid": services_of(app).keys.active.kid}
        for token in (
            f"{segment(header)}.{segment(partner_claims(app, partner))}.",
            f"{segment({**header, 'alg': 'None'})}.{segment(partner_claims(app, partner))}.",
        ):
            response = await client.get(PRODUCTS, headers={"Authorization": f"Bearer {token}"})
            assert_invalid_token(response, token=token, scheme="Bearer")

    @pytest.mark.parametrize("secret_form", ["pem", "der", "jwk-json", "jwks-json"])
    async def test_hs256_with_public_key_as_secret_is_rejected(
        self, client: httpx.AsyncClient, app: FastAPI, secret_form: str
    ) -> None:
        """The algorithm-confusion attack (HS256 keyed with the public key) is refused."""
        partner = await sandbox_partner(client)
        keys = services_of(app).keys
        public = ECKey.import_key(keys.private_key(keys.active.kid).as_dict(private=False))
        secret = {
            "pem": lambda: public.as_pem(private=False),
            "der": lambda: public.as_der(private=False),
            "jwk-json": lambda: json.dumps(public.as_dict(private=False)).encode(),
            "jwks-json": lambda: json.dumps(keys.jwks()).encode(),
        }[secret_form]()
        header = {"alg": "HS256", "typ": "at+jwt", "kid": keys.active.kid}
        signing_input = f"{segment(header)}.{segment(partner_claims(app, partner))}"
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        token = f"{signing_input}.{b64url(mac)}"
        response = await client.get(PRODUCTS, headers={"Authorization": f"Bearer {token}"})
        assert_invalid_token(response, token=token)

    async def test_attacker_key_with_gateway_kid_is_rejected(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """A token signed by another EC key that claims the gateway's `kid` is refused."""
        partner = await sandbox_partner(client)
        attacker = ECKey.generate_key("P-256")
        token = gateway_signed(app, partner_claims(app, partner), key=attacker)
        response = await client.get(PRODUCTS, headers={"Authorization": f"Bearer {token}"})
        assert_invalid_token(response, token=token)

    async def test_attacker_key_embedded_in_header_is_rejected(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """A token carrying its own `jwk` (self-signed) is refused."""
        partner = await sandbox_partner(client)
        attacker = ECKey.generate_key("P-256")
        token = gateway_signed(
            app,
            partner_claims(app, partner),
            key=attacker,
            kid=None,
            jwk=attacker.as_dict(private=False),
        )
        response = await client.get(PRODUCTS, headers={"Authorization": f"Bearer {token}"})
        assert_invalid_token(response, token=token)

    @pytest.mark.parametrize(
        ("claims", "reason"),
        [
            ({"exp": -60, "iat": -600}, "token-expired"),
            ({"exp": -3600, "iat": -3900}, "token-expired"),
            ({"iat": 600, "exp": 900}, "not valid yet"),
            ({"iss": "http://127.0.0.1:9999"}, "wrong iss"),
            ({"iss": "https://attacker.example"}, "wrong iss"),
            ({"aud": "https://other-api.example"}, "wrong aud"),
            ({"aud": ["https://other-api.example"]}, "wrong aud"),
            ({"exp": None}, "no exp"),
            ({"jti": None}, "no jti"),
            ({"partner_id": None}, "no partner_id"),
        ],
    )
    async def test_bad_claims_are_rejected(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        claims: dict[str, Any],
        reason: str,
    ) -> None:
        """A token with the gateway's real signature but bad claims is refused."""
        partner = await sandbox_partner(client)
        now = int(time.time())
        overrides = {
            k: (now + v if k in ("exp", "iat") and isinstance(v, int) else v)
            for k, v in claims.items()
        }
        token = gateway_signed(app, partner_claims(app, partner, **overrides))
        response = await client.get(PRODUCTS, headers={"Authorization": f"Bearer {token}"})
        code = reason if reason.startswith("token-") else "invalid-token"
        assert_invalid_token(response, token=token, code=code)

    async def test_audience_list_with_gateway_is_accepted(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """Positive control for `aud`: a list that names the gateway is accepted."""
        partner = await sandbox_partner(client)
        issuer = services_of(app).settings.issuer
        token = gateway_signed(
            app, partner_claims(app, partner, aud=["https://other.example", issuer])
        )
        response = await client.get(PRODUCTS, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text

    @pytest.mark.parametrize("typ", [None, "JWT", "jwt", "dpop+jwt", "at+jwt "])
    async def test_token_without_at_jwt_typ_is_rejected(
        self, client: httpx.AsyncClient, app: FastAPI, typ: str | None
    ) -> None:
        """RFC 9068 §4: a token whose `typ` is not `at+jwt` is refused (no JWT confusion)."""
        partner = await sandbox_partner(client)
        token = gateway_signed(app, partner_claims(app, partner), typ=typ)
        response = await client.get(PRODUCTS, headers={"Authorization": f"Bearer {token}"})
        assert_invalid_token(response, token=token)

    @pytest.mark.parametrize(
        "authorization",
        [
            "Bearer",
            "Bearer ",
            "Basic dXNlcjpwYXNz",
            "Bearer not-a-jwt",
            "Bearer a.b.c",
            "Bearer eyJhbGciOiJFUzI1NiJ9.e30.",
        ],
    )
    async def test_malformed_authorization_is_rejected(
        self, client: httpx.AsyncClient, authorization: str
    ) -> None:
        """A missing, garbled or non-Bearer credential is a 401 with a challenge."""
        response = await client.get(PRODUCTS, headers={"Authorization": authorization})
        assert_invalid_token(response)

    async def test_missing_authorization_is_rejected(self, client: httpx.AsyncClient) -> None:
        """No Authorization header at all is a 401 with a challenge."""
        assert_invalid_token(await client.get(PRODUCTS))


BARE_BASELINE = 'Bearer realm="obgw", DPoP realm="obgw", algs="ES256 PS256"'
BARE_STRICT = 'DPoP realm="obgw", algs="ES256 PS256"'


@pytest.fixture
async def strict_client(tmp_path: Path) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The strict profile's gateway and a client of it."""
    settings = make_settings(tmp_path, fapi_profile="strict")
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=settings.issuer) as http:
            yield application, http


async def strict_partner_token(
    application: FastAPI, http: httpx.AsyncClient, scope: str
) -> tuple[str, DPoPKey]:
    """A DPoP-bound client-credentials token of a new private_key_jwt client."""
    services = services_of(application)
    partner = await services.registry.create_partner("P", "school")
    kc = await key_client(application, partner.id, ["products", "consents"])
    key = DPoPKey.generate(alg="ES256")
    token_url = f"{http.base_url}/oauth/token"
    issued = await http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "scope": scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(kc, str(http.base_url)),
        },
        headers={"DPoP": dpop_proof(key, "POST", token_url)},
    )
    assert issued.status_code == 200, issued.text
    return str(issued.json()["access_token"]), key


class TestChallenges:
    async def test_request_without_credentials_gets_bare_challenges(
        self, client: httpx.AsyncClient
    ) -> None:
        """RFC 6750 §3.1: no credentials, or a scheme not used here, get a challenge per
        accepted scheme and no error code; a token passes."""
        for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Tok x"}):
            response = await client.get(PRODUCTS, headers=headers)
            assert_problem(response, 401, "invalid-token")
            assert response.headers["www-authenticate"] == BARE_BASELINE
            assert "error=" not in response.headers["www-authenticate"]
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "products")
        control = await client.get(PRODUCTS, headers={"Authorization": f"Bearer {token}"})
        assert control.status_code == 200, control.text

    async def test_sandbox_tooling_says_client_credentials_are_accepted(
        self, client: httpx.AsyncClient
    ) -> None:
        """A sandbox route (token or client secret) without credentials says, in both
        languages, that HTTP Basic client credentials are accepted and challenges with Basic
        too; a token-only route does not offer them; the client's id and secret pass."""
        for language in ("en", "zh-CN"):
            response = await client.get("/sandbox/customers", headers={"Accept-Language": language})
            body = assert_problem(response, 401, "invalid-token")
            assert "HTTP Basic" in body["detail"]
            assert "client_id:client_secret" in body["detail"]
            assert response.headers["www-authenticate"] == BARE_BASELINE + ', Basic realm="obgw"'
        token_only = assert_problem(await client.get(PRODUCTS), 401, "invalid-token")
        assert "Basic" not in token_only["detail"]
        partner = await sandbox_partner(client)
        control = await client.get("/sandbox/customers", auth=partner.basic)
        assert control.status_code == 200, control.text

    async def test_refused_bearer_token_is_challenged_as_bearer(
        self, client: httpx.AsyncClient
    ) -> None:
        """Positive control for the schemes: in the baseline profile a bad bearer token is
        answered with a Bearer challenge carrying the error."""
        response = await client.get(PRODUCTS, headers={"Authorization": "Bearer a.b.c"})
        assert response.headers["www-authenticate"].startswith('Bearer realm="obgw", error=')

    async def test_strict_profile_never_advertises_bearer(
        self, strict_client: tuple[FastAPI, httpx.AsyncClient]
    ) -> None:
        """The strict profile refuses bearer tokens, so every challenge it sends is DPoP's
        (with `algs`), also to a request that tried Bearer; a DPoP token with its proof
        passes."""
        application, http = strict_client
        token, key = await strict_partner_token(application, http, "products")
        missing = await http.get(PRODUCTS)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == BARE_STRICT
        for bearer in (token, "a.b.c"):
            response = await http.get(PRODUCTS, headers={"Authorization": f"Bearer {bearer}"})
            assert response.status_code == 401
            challenge = response.headers["www-authenticate"]
            assert challenge.startswith('DPoP realm="obgw", error="invalid_token"'), challenge
            assert "Bearer" not in challenge
        url = f"{http.base_url}{PRODUCTS}"
        proof = dpop_proof(key, "GET", url, token)
        control = await http.get(
            PRODUCTS, headers={"Authorization": f"DPoP {token}", "DPoP": proof}
        )
        assert control.status_code == 200, control.text

    async def test_insufficient_scope_is_challenged_with_the_tokens_scheme(
        self, strict_client: tuple[FastAPI, httpx.AsyncClient]
    ) -> None:
        """A DPoP-bound token without the product's scope gets a DPoP `insufficient_scope`
        challenge naming the scope."""
        application, http = strict_client
        token, key = await strict_partner_token(application, http, "consents")
        url = f"{http.base_url}{PRODUCTS}"
        response = await http.get(
            PRODUCTS,
            headers={"Authorization": f"DPoP {token}", "DPoP": dpop_proof(key, "GET", url, token)},
        )
        assert_problem(response, 403, "insufficient-scope")
        assert response.headers["www-authenticate"] == (
            'DPoP realm="obgw", error="insufficient_scope", scope="products", algs="ES256 PS256"'
        )


class TestTokenPresentation:
    async def test_token_in_query_string_is_refused(self, client: httpx.AsyncClient) -> None:
        """RFC 9700 §2.4: `?access_token=` is an invalid request, even with a valid token."""
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "products")
        alone = await client.get(PRODUCTS, params={"access_token": token})
        assert_problem(alone, 400, "invalid-request")
        assert token not in alone.text
        both = await client.get(
            PRODUCTS,
            params={"access_token": token},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert_problem(both, 400, "invalid-request")
        control = await client.get(PRODUCTS, headers={"Authorization": f"Bearer {token}"})
        assert control.status_code == 200, control.text

    async def test_dpop_bound_token_sent_as_bearer_is_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        """A DPoP-bound customer token cannot be downgraded to a bearer token."""
        _, grant, account_id = await customer_setup(client)
        path = balances_path(account_id)
        url = str(client.base_url) + path
        assert grant.dpop_key is not None
        response = await client.get(
            path,
            headers={
                "Authorization": f"Bearer {grant.access_token}",
                "DPoP": dpop_proof(grant.dpop_key, "GET", url, grant.access_token),
            },
        )
        assert_invalid_token(response, token=grant.access_token, scheme="DPoP")
        assert (await read_balances(client, grant, account_id)).status_code == 200

    async def test_unbound_token_sent_as_dpop_is_refused(self, client: httpx.AsyncClient) -> None:
        """A bearer token presented under the DPoP scheme is refused."""
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "products")
        key = DPoPKey.generate(alg="ES256")
        response = await client.get(
            PRODUCTS,
            headers={
                "Authorization": f"DPoP {token}",
                "DPoP": dpop_proof(key, "GET", str(client.base_url) + PRODUCTS, token),
            },
        )
        assert_invalid_token(response, token=token, scheme="DPoP")

    async def test_bearer_customer_token_is_accepted_in_baseline(
        self, client: httpx.AsyncClient
    ) -> None:
        """Positive control: an unbound customer token works as Bearer in the sandbox."""
        _, grant, account_id = await customer_setup(client, dpop=False)
        response = await read_balances(client, grant, account_id)
        assert response.status_code == 200, response.text


# --- DPoP proofs at the resource routes ------------------------------------------------------


class TestDPoPProofsAtResources:
    async def test_proper_proofs_are_accepted(self, client: httpx.AsyncClient) -> None:
        """Positive control: a library proof and a hand-built proof both read balances."""
        _, grant, account_id = await customer_setup(client)
        assert (await read_balances(client, grant, account_id)).status_code == 200
        path = balances_path(account_id)
        proof = hand_proof(bound_key(grant), "GET", str(client.base_url) + path, grant.access_token)
        response = await client.get(
            path, headers={"Authorization": f"DPoP {grant.access_token}", "DPoP": proof}
        )
        assert response.status_code == 200, response.text
        assert response.headers.get("cache-control") == "no-store"

    async def test_replayed_proof_is_refused(self, client: httpx.AsyncClient) -> None:
        """The same proof twice: the first is served, the second is a 401."""
        _, grant, account_id = await customer_setup(client)
        path = balances_path(account_id)
        headers = customer_headers(client, grant, "GET", path)
        first = await client.get(path, headers=headers)
        assert first.status_code == 200, first.text
        second = await client.get(path, headers=headers)
        challenge = assert_invalid_proof(second, token=grant.access_token)
        assert 'error="invalid_dpop_proof"' in challenge

    async def test_missing_proof_is_refused(self, client: httpx.AsyncClient) -> None:
        """A DPoP-bound token without a DPoP header is refused."""
        _, grant, account_id = await customer_setup(client)
        response = await client.get(
            balances_path(account_id), headers={"Authorization": f"DPoP {grant.access_token}"}
        )
        assert_invalid_proof(response, token=grant.access_token)

    @pytest.mark.parametrize(
        ("method", "target"),
        [
            ("POST", "{base}{path}"),
            ("get", "{base}{path}"),
            ("GET", "{base}/v1/accounts"),
            ("GET", "{base}/v1/accounts/{account_id}"),
            ("GET", "https://evil.example{path}"),
            ("GET", "http://127.0.0.1:8001{path}"),
            ("GET", "https://127.0.0.1:8000{path}"),
        ],
    )
    async def test_proof_for_another_request_is_refused(
        self, client: httpx.AsyncClient, method: str, target: str
    ) -> None:
        """A proof whose `htm` or `htu` (path, host, port, scheme) differs is refused."""
        _, grant, account_id = await customer_setup(client)
        path = balances_path(account_id)
        url = target.format(base=str(client.base_url), path=path, account_id=account_id)
        proof = hand_proof(bound_key(grant), method, url, grant.access_token)
        response = await client.get(
            path, headers={"Authorization": f"DPoP {grant.access_token}", "DPoP": proof}
        )
        challenge = assert_invalid_proof(response, token=grant.access_token)
        assert 'error="invalid_dpop_proof"' in challenge

    async def test_proof_by_another_key_is_refused(self, client: httpx.AsyncClient) -> None:
        """A well-formed proof signed by a key other than the token's `cnf.jkt` is refused."""
        _, grant, account_id = await customer_setup(client)
        path = balances_path(account_id)
        other = DPoPKey.generate(alg="ES256")
        proof = dpop_proof(other, "GET", str(client.base_url) + path, grant.access_token)
        response = await client.get(
            path, headers={"Authorization": f"DPoP {grant.access_token}", "DPoP": proof}
        )
        assert_invalid_proof(response, token=grant.access_token)

    async def test_proof_for_another_token_is_refused(self, client: httpx.AsyncClient) -> None:
        """A proof whose `ath` hashes another access token is refused (and a missing `ath`)."""
        partner, grant, account_id = await customer_setup(client)
        other = await partner_token(client, partner, "products")
        path = balances_path(account_id)
        url = str(client.base_url) + path
        for proof in (
            hand_proof(bound_key(grant), "GET", url, other),
            hand_proof(bound_key(grant), "GET", url, None),
        ):
            response = await client.get(
                path, headers={"Authorization": f"DPoP {grant.access_token}", "DPoP": proof}
            )
            assert_invalid_proof(response, token=grant.access_token)

    @pytest.mark.parametrize("age", [600, 61, -600])
    async def test_proof_outside_iat_window_is_refused(
        self, client: httpx.AsyncClient, age: int
    ) -> None:
        """A proof issued 10 minutes ago (or just past the window, or in the future) is refused."""
        _, grant, account_id = await customer_setup(client)
        path = balances_path(account_id)
        proof = hand_proof(
            bound_key(grant),
            "GET",
            str(client.base_url) + path,
            grant.access_token,
            iat=int(time.time()) - age,
        )
        response = await client.get(
            path, headers={"Authorization": f"DPoP {grant.access_token}", "DPoP": proof}
        )
        assert_invalid_proof(response, token=grant.access_token)

    @pytest.mark.parametrize("typ", [None, "JWT", "at+jwt"])
    async def test_proof_without_dpop_typ_is_refused(
        self, client: httpx.AsyncClient, typ: str | None
    ) -> None:
        """A proof whose `typ` is not `dpop+jwt` is refused."""
        _, grant, account_id = await customer_setup(client)
        path = balances_path(account_id)
        proof = hand_proof(
            bound_key(grant), "GET", str(client.base_url) + path, grant.access_token, typ=typ
        )
        response = await client.get(
            path, headers={"Authorization": f"DPoP {grant.access_token}", "DPoP": proof}
        )
        assert_invalid_proof(response, token=grant.access_token)

    async def test_proof_carrying_private_key_is_refused(self, client: httpx.AsyncClient) -> None:
        """A proof whose header `jwk` includes the private key (`d`) is refused."""
        _, grant, account_id = await customer_setup(client)
        path = balances_path(account_id)
        key = bound_key(grant)
        proof = hand_proof(
            key,
            "GET",
            str(client.base_url) + path,
            grant.access_token,
            jwk=key.as_dict(private=True),
        )
        response = await client.get(
            path, headers={"Authorization": f"DPoP {grant.access_token}", "DPoP": proof}
        )
        assert_invalid_proof(response, token=grant.access_token)

    @pytest.mark.parametrize(
        "htu",
        ["http://127.0.0.1:99999/v1/accounts", "http://127.0.0.1:port/", "http://[::1/"],
    )
    async def test_proof_with_unparseable_htu_is_a_401(
        self, client: httpx.AsyncClient, htu: str
    ) -> None:
        """A proof whose `htu` is not a parseable URL is a 401, not a server error."""
        _, grant, account_id = await customer_setup(client)
        path = balances_path(account_id)
        proof = hand_proof(bound_key(grant), "GET", htu, grant.access_token)
        response = await client.get(
            path, headers={"Authorization": f"DPoP {grant.access_token}", "DPoP": proof}
        )
        assert_invalid_proof(response, token=grant.access_token)

    async def test_proof_with_non_ascii_ath_is_a_401(self, client: httpx.AsyncClient) -> None:
        """A proof whose `ath` holds non-ASCII text is a 401, not a server error."""
        _, grant, account_id = await customer_setup(client)
        path = balances_path(account_id)
        proof = hand_proof(
            bound_key(grant), "GET", str(client.base_url) + path, None, ath="令牌哈希"
        )
        response = await client.get(
            path, headers={"Authorization": f"DPoP {grant.access_token}", "DPoP": proof}
        )
        assert_invalid_proof(response, token=grant.access_token)

    async def test_two_dpop_headers_are_refused(self, client: httpx.AsyncClient) -> None:
        """RFC 9449 §4.3 (1): a request with more than one DPoP header field is refused."""
        _, grant, account_id = await customer_setup(client)
        path = balances_path(account_id)
        url = str(client.base_url) + path
        key = bound_key(grant)
        headers = [
            ("Authorization", f"DPoP {grant.access_token}"),
            ("DPoP", hand_proof(key, "GET", url, grant.access_token)),
            ("DPoP", hand_proof(key, "GET", url, grant.access_token)),
        ]
        response = await client.get(path, headers=headers)
        assert_invalid_proof(response, token=grant.access_token)


class TestDPoPAlgorithms:
    @pytest.mark.parametrize("alg", ["ES256", "PS256"])
    async def test_advertised_alg_binds_and_reads(
        self, client: httpx.AsyncClient, alg: str
    ) -> None:
        """Every alg in `dpop_signing_alg_values_supported` gets a bound token that works."""
        metadata = (await client.get("/.well-known/oauth-authorization-server")).json()
        assert alg in metadata["dpop_signing_alg_values_supported"]
        partner = await sandbox_partner(client)
        key = DPoPKey.generate(alg=alg)
        issued = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "scope": "products"},
            auth=partner.basic,
            headers={"DPoP": dpop_proof(key, "POST", str(client.base_url) + "/oauth/token")},
        )
        assert issued.status_code == 200, issued.text
        assert issued.json()["token_type"] == "DPoP"
        token = issued.json()["access_token"]
        response = await client.get(
            PRODUCTS,
            headers={
                "Authorization": f"DPoP {token}",
                "DPoP": dpop_proof(key, "GET", str(client.base_url) + PRODUCTS, token),
            },
        )
        assert response.status_code == 200, response.text


# --- revocation ------------------------------------------------------------------------------


async def revoke_token(client: httpx.AsyncClient, partner: Partner, token: str) -> None:
    response = await client.post("/oauth/revoke", data={"token": token}, auth=partner.basic)
    assert response.status_code == 200, response.text


class TestRevocation:
    async def test_revoked_partner_token_is_refused_despite_cache(
        self, client: httpx.AsyncClient
    ) -> None:
        """A token verified (and cached) before revocation is refused right after it."""
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "products")
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(2):  # verified, then served from the verification cache
            assert (await client.get(PRODUCTS, headers=headers)).status_code == 200
        await revoke_token(client, partner, token)
        response = await client.get(PRODUCTS, headers=headers)
        assert_invalid_token(response, token=token, code="token-revoked")
        fresh = await partner_token(client, partner, "products")
        control = await client.get(PRODUCTS, headers={"Authorization": f"Bearer {fresh}"})
        assert control.status_code == 200, control.text

    async def test_revoked_customer_token_is_refused(self, client: httpx.AsyncClient) -> None:
        """A revoked DPoP-bound customer token stops reading balances, with a fresh proof."""
        partner, grant, account_id = await customer_setup(client)
        assert (await read_balances(client, grant, account_id)).status_code == 200
        await revoke_token(client, partner, grant.access_token)
        response = await read_balances(client, grant, account_id)
        assert_invalid_token(response, token=grant.access_token, code="token-revoked")

    async def test_revoked_consent_stops_customer_token(self, client: httpx.AsyncClient) -> None:
        """DELETE /v1/consents/{id} stops the consent's access token at once."""
        partner, grant, account_id = await customer_setup(client)
        assert (await read_balances(client, grant, account_id)).status_code == 200
        token = await partner_token(client, partner, "consents")
        deleted = await client.delete(
            f"/v1/consents/{grant.consent_id}", headers={"Authorization": f"Bearer {token}"}
        )
        assert deleted.status_code == 204, deleted.text
        response = await read_balances(client, grant, account_id)
        assert_invalid_token(response, token=grant.access_token, code="consent-revoked")
        listed = await client.get(
            "/v1/accounts", headers=customer_headers(client, grant, "GET", "/v1/accounts")
        )
        assert_invalid_token(listed, token=grant.access_token, code="consent-revoked")

    async def test_revocation_reaches_another_replica(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        """A token revoked on one replica is refused by another within 1 s (DESIGN §3)."""
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "products")
        headers = {"Authorization": f"Bearer {token}"}
        replica = create_app(settings)
        async with replica.router.lifespan_context(replica):
            transport = httpx.ASGITransport(app=replica, client=("127.0.0.1", 50001))
            async with httpx.AsyncClient(transport=transport, base_url=settings.issuer) as other:
                assert (await other.get(PRODUCTS, headers=headers)).status_code == 200
                await revoke_token(client, partner, token)
                await asyncio.sleep(1.0)
                response = await other.get(PRODUCTS, headers=headers)
                assert_invalid_token(response, token=token, code="token-revoked")


class TestReplayAcrossReplicas:
    async def test_proof_replayed_on_another_replica_is_refused(self, settings: Settings) -> None:
        """With Redis configured, a proof used on one replica is refused by the other."""
        import redis.asyncio as redis

        probe = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        try:
            await probe.ping()
        except (OSError, redis.RedisError) as exc:
            service_missing(f"Redis at {REDIS_URL}", exc)
        finally:
            await probe.aclose()
        shared = settings.model_copy(update={"redis_url": REDIS_URL})
        first, second = create_app(shared), create_app(shared)
        async with (
            first.router.lifespan_context(first),
            second.router.lifespan_context(second),
        ):
            a = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=first, client=("127.0.0.1", 50002)),
                base_url=shared.issuer,
            )
            b = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=second, client=("127.0.0.1", 50003)),
                base_url=shared.issuer,
            )
            async with a, b:
                _, grant, account_id = await customer_setup(a)
                path = balances_path(account_id)
                headers = customer_headers(a, grant, "GET", path)
                assert (await a.get(path, headers=headers)).status_code == 200
                replayed = await b.get(path, headers=headers)
                assert_invalid_proof(replayed, token=grant.access_token)
                control = await b.get(path, headers=customer_headers(b, grant, "GET", path))
                assert control.status_code == 200, control.text


# --- scope, consent permission and resource ownership ---------------------------------------


class TestAuthorisation:
    async def test_token_without_scope_is_forbidden(self, client: httpx.AsyncClient) -> None:
        """A valid token lacking the product's scope is a 403 insufficient-scope."""
        partner = await sandbox_partner(client)
        token = await partner_token(client, partner, "consents")
        response = await client.get(PRODUCTS, headers={"Authorization": f"Bearer {token}"})
        assert_problem(response, 403, "insufficient-scope")
        assert "products" in response.headers.get("www-authenticate", "")

    async def test_customer_token_without_accounts_scope_is_forbidden(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        """A consent-bearing token without the `accounts` scope cannot read balances."""
        partner, grant, account_id = await customer_setup(client, dpop=False)
        issued = await client.post(
            "/oauth/introspect", data={"token": grant.access_token}, auth=partner.basic
        )
        assert issued.status_code == 200, issued.text
        claims = partner_claims(
            app,
            partner,
            sub=issued.json()["sub"],
            scope="products",
            consent_id=grant.consent_id,
        )
        token = gateway_signed(app, claims)
        path = balances_path(account_id)
        forbidden = await client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert_problem(forbidden, 403, "insufficient-scope")
        assert "CNY" not in forbidden.text
        control = gateway_signed(app, {**claims, "scope": "accounts", "jti": "at_control"})
        allowed = await client.get(path, headers={"Authorization": f"Bearer {control}"})
        assert allowed.status_code == 200, allowed.text

    async def test_consent_without_read_balances_is_forbidden(
        self, client: httpx.AsyncClient
    ) -> None:
        """A consent granting only ReadAccountsBasic lists accounts but not their balances."""
        _, grant, account_id = await customer_setup(client, permissions=["ReadAccountsBasic"])
        response = await read_balances(client, grant, account_id)
        body = assert_problem(response, 403, "consent-insufficient")
        assert "ReadBalances" in body["detail"]
        assert "CNY" not in response.text

    async def test_another_customers_account_is_not_found(self, client: httpx.AsyncClient) -> None:
        """Another customer's account id (same partner) is a 404, never data."""
        partner, grant, own = await customer_setup(client)
        other = await customer_grant(client, partner, customer="li.na")
        foreign = await first_account(client, other)
        assert foreign != own
        response = await read_balances(client, grant, foreign)
        assert_problem(response, 404, "not-found")
        assert "CNY" not in response.text
        assert (await read_balances(client, other, foreign)).status_code == 200

    async def test_another_partners_account_is_not_found(self, client: httpx.AsyncClient) -> None:
        """An account id another partner obtained for the same customer is a 404."""
        _, grant, own = await customer_setup(client)
        hospital = await sandbox_partner(client, "市第一人民医院")
        theirs = await customer_grant(client, hospital)
        foreign = await first_account(client, theirs)
        assert foreign != own
        response = await read_balances(client, grant, foreign)
        assert_problem(response, 404, "not-found")
        assert "CNY" not in response.text
        assert (await read_balances(client, grant, own)).status_code == 200

    async def test_unknown_account_is_not_found(self, client: httpx.AsyncClient) -> None:
        """A well-formed but unknown account id is a 404."""
        _, grant, _ = await customer_setup(client)
        response = await read_balances(client, grant, "acc_" + "a" * 20)
        assert_problem(response, 404, "not-found")
