"""The partner registry and consent store on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from joserfc.jwk import ECKey

from gateway.partners.models import MAX_CLIENT_KEYS, RegistryError
from policies.vocabulary import ConsentStatus, ConsentType
from tests.factories import ec_private, octets, public_jwk, rsa_private, services_of


class TestRegistry:
    async def test_partner_and_secret_client(self, app: FastAPI) -> None:
        """A client secret is returned once and stored only as a hash."""
        registry = services_of(app).registry
        partner = await registry.create_partner("市第一医院", "hospital", "gold")
        issued = await registry.create_client(partner_id=partner.id, scopes=["products"])
        assert issued.client_secret
        stored = await registry.get_client(issued.client.client_id)
        assert stored is not None
        assert stored.secret_hash != issued.client_secret
        assert issued.client_secret not in str(stored)
        assert stored.check_secret(issued.client_secret)
        assert not stored.check_secret(issued.client_secret + "x")
        assert [p.id for p in await registry.list_partners()][-1] == partner.id

    @pytest.mark.parametrize(
        "bad",
        [
            {"scopes": ["nonsense"]},
            {"scopes": ["ops:admin"]},
            {"scopes": ["accounts"], "redirect_uris": ["http://evil.example/cb"]},
            {"scopes": ["products"], "jwks": {"keys": [{"kty": "oct", "k": "AAAA"}]}},
            {"scopes": ["products"], "jwks": {"keys": []}},
        ],
    )
    async def test_refuses_bad_clients(self, app: FastAPI, bad: dict[str, object]) -> None:
        """Unknown scopes, ops scopes, non-https redirects and symmetric keys are refused."""
        registry = services_of(app).registry
        partner = await registry.create_partner("P", "other")
        with pytest.raises(RegistryError):
            await registry.create_client(partner_id=partner.id, **bad)  # type: ignore[arg-type]

    async def test_unknown_sector(self, app: FastAPI) -> None:
        """A sector outside the five is refused."""
        with pytest.raises(RegistryError, match="is not a sector"):
            await services_of(app).registry.create_partner("P", "casino")


def odd_number(bits: int) -> int:
    return secrets.randbits(bits) | (1 << (bits - 1)) | 1


WEAK_OR_COSTLY_KEYS = {
    "RSA-768": lambda: {"kty": "RSA", "n": octets(odd_number(768)), "e": "AQAB"},
    "RSA-1024": lambda: public_jwk(rsa_private(1024)),
    "RSA-8192": lambda: {"kty": "RSA", "n": octets(odd_number(8192)), "e": "AQAB"},
    "e=3": lambda: public_jwk(rsa_private(2048, exponent=3)),
    "3000-bit e": lambda: {
        **public_jwk(rsa_private(4096)),
        "e": octets(odd_number(3000)),
    },
    "P-384": lambda: public_jwk(ec_private(ec.SECP384R1())),
    "symmetric": lambda: {"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"},
    "private part": lambda: ECKey.generate_key("P-256").as_dict(private=True),
    "use enc": lambda: {**public_jwk(ec_private()), "use": "enc"},
}


class TestClientKeys:
    @pytest.mark.parametrize("build", WEAK_OR_COSTLY_KEYS.values(), ids=WEAK_OR_COSTLY_KEYS)
    async def test_weak_or_costly_keys_are_refused(
        self, app: FastAPI, build: Callable[[], dict[str, Any]]
    ) -> None:
        """A client JWKS with a weak, oversized, odd-exponent, other-curve, symmetric or
        private key is refused at registration, saying which keys are accepted."""
        registry = services_of(app).registry
        partner = await registry.create_partner("P", "other")
        with pytest.raises(RegistryError) as refused:
            await registry.create_client(
                partner_id=partner.id, scopes=["products"], jwks={"keys": [build()]}
            )
        assert refused.value.message.zh
        assert "key" in str(refused.value)

    @pytest.mark.parametrize(
        "build",
        [
            lambda: public_jwk(ec_private()),
            lambda: public_jwk(rsa_private(2048)),
            lambda: {**public_jwk(rsa_private(4096)), "use": "sig", "alg": "PS256"},
        ],
        ids=["P-256", "RSA-2048", "RSA-4096"],
    )
    async def test_accepted_keys_register(
        self, app: FastAPI, build: Callable[[], dict[str, Any]]
    ) -> None:
        """Positive control: P-256 and RSA 2048 to 4096 bits with exponent 65537 register."""
        registry = services_of(app).registry
        partner = await registry.create_partner("P", "other")
        issued = await registry.create_client(
            partner_id=partner.id, scopes=["products"], jwks={"keys": [build()]}
        )
        assert issued.client.auth_method == "private_key_jwt"

    async def test_too_many_keys_are_refused(self, app: FastAPI) -> None:
        """A JWKS of more keys than a client needs is refused; the most allowed register."""
        registry = services_of(app).registry
        partner = await registry.create_partner("P", "other")
        keys = [{**public_jwk(ec_private()), "kid": f"k{i}"} for i in range(MAX_CLIENT_KEYS + 1)]
        with pytest.raises(RegistryError):
            await registry.create_client(
                partner_id=partner.id, scopes=["products"], jwks={"keys": keys}
            )
        await registry.create_client(
            partner_id=partner.id, scopes=["products"], jwks={"keys": keys[:MAX_CLIENT_KEYS]}
        )


REFUSED_REDIRECT_URIS = [
    "http://127.0.0.1.evil.example/cb",
    "http://127.0.0.1@evil.example/cb",
    "http://localhost.evil.example/cb",
    "http://[::1]@evil.example/cb",
    "http://localhost./cb",
    "http://evil.example/cb",
    "https://user:pw@app.example/cb",
    "https://app.example/cb#fragment",
    "https://app.example\\@evil.example/cb",
    "https://app.example/cb\r\nSet-Cookie: x=1",
    "https://app.example/c b",
    "https://äpp.example/cb",
    "/relative/cb",
    "app.example/cb",
    "HTTPS://app.example/cb",
    "javascript:alert(1)",
    "https:///cb",
    "http://127.0.0.1:99999/cb",
    "http://[::1/cb",
    "",
]
ACCEPTED_REDIRECT_URIS = [
    "https://app.example/cb",
    "https://app.example/cb?tenant=7",
    "http://127.0.0.1/callback",
    "http://127.0.0.1:8080/cb",
    "http://[::1]:53211/cb",
    "http://localhost:3000/cb",
]


class TestRedirectUris:
    @pytest.mark.parametrize("uri", REFUSED_REDIRECT_URIS)
    async def test_unsafe_redirect_uri_is_refused(self, app: FastAPI, uri: str) -> None:
        """A redirect URI that a prefix check would pass — a host that merely starts like a
        loopback one, user information, a fragment, a backslash, control characters, a
        relative URI, plain http elsewhere — is refused, saying what to register."""
        registry = services_of(app).registry
        partner = await registry.create_partner("P", "other")
        with pytest.raises(RegistryError) as refused:
            await registry.create_client(
                partner_id=partner.id, scopes=["accounts"], redirect_uris=[uri]
            )
        assert "Register an absolute https URI" in str(refused.value)
        assert refused.value.message.zh

    @pytest.mark.parametrize("uri", ACCEPTED_REDIRECT_URIS)
    async def test_safe_redirect_uri_registers(self, app: FastAPI, uri: str) -> None:
        """Positive control: https URIs and loopback http URIs on any port register."""
        registry = services_of(app).registry
        partner = await registry.create_partner("P", "other")
        issued = await registry.create_client(
            partner_id=partner.id, scopes=["accounts"], redirect_uris=[uri]
        )
        assert issued.client.redirect_uris == (uri,)

    async def test_sandbox_signup_applies_the_same_rule(self, client: httpx.AsyncClient) -> None:
        """Sandbox sign-up refuses an unsafe redirect URI with a bilingual problem and
        accepts a safe one."""
        body = {"partner_name": "P", "sector": "school", "contact_email": "it@p.example"}
        refused = await client.post(
            "/sandbox/signup",
            json={**body, "redirect_uris": ["http://127.0.0.1.evil.example/cb"]},
            headers={"Accept-Language": "zh-CN"},
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["path"] == "redirect_uris.0"
        assert "环回" in refused.json()["errors"][0]["message"]
        accepted = await client.post(
            "/sandbox/signup", json={**body, "redirect_uris": ["https://p.example/cb"]}
        )
        assert accepted.status_code == 201, accepted.text


class TestConsentStore:
    async def test_lifecycle(self, app: FastAPI) -> None:
        """Awaiting → Authorised (bound to customer and accounts) → Revoked."""
        services = services_of(app)
        store = services.consents
        created = await store.create(
            partner_id="ptn_x",
            client_id="cli_x",
            type=ConsentType.ACCOUNT_ACCESS,
            permissions=["ReadBalances"],
            expires_at=None,
        )
        assert created.status is ConsentStatus.AWAITING_AUTHORISATION
        async with services.db.transaction() as uow:
            assert await store.store.authorise(
                uow.conn,
                created.id,
                customer_ref="c/1",
                psu_id="psu_a",
                accounts={"acc_a": "core/1"},
            )
            assert not await store.store.authorise(
                uow.conn, created.id, customer_ref="c/2", psu_id="psu_b", accounts={}
            )
        view = await store.consent_view(created.id)
        assert view is not None
        assert view.status == "Authorised"
        assert dict(view.accounts) == {"acc_a": "core/1"}
        revoked = await store.revoke(created.id)
        assert revoked is not None
        assert revoked.status is ConsentStatus.REVOKED
        assert services.revocation_list.is_revoked("consent", created.id)

    async def test_expiry_is_reported(self, app: FastAPI) -> None:
        """A consent past its expiry reads as Expired."""
        store = services_of(app).consents
        soon = datetime.now(UTC) + timedelta(milliseconds=50)
        created = await store.create(
            partner_id="ptn_x",
            client_id="cli_x",
            type=ConsentType.ACCOUNT_ACCESS,
            permissions=["ReadBalances"],
            expires_at=soon,
        )
        import asyncio

        await asyncio.sleep(0.1)
        fetched = await store.get(created.id)
        assert fetched is not None
        assert fetched.status is ConsentStatus.EXPIRED
        assert fetched.expires_at is not None
        assert fetched.expires_at.tzinfo is not None
