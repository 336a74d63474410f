"""Signing keys: rotation and revocation reach every replica within seconds, without restart."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from joserfc import jws
from joserfc.jwk import ECKey

from gateway.app import create_app
from gateway.oauth.keys import KeySealer, SigningKeyError
from gateway.settings import Settings
from gateway.storage.tables import signing_keys
from tests.conftest import make_settings
from tests.factories import (
    gateway_signed,
    partner_claims,
    partner_token,
    replicas,
    sandbox_partner,
    services_of,
)

PRODUCTS = "/v1/products/deposits"
ROOT = Path(__file__).resolve().parents[2]
WITHIN = 3.0  # seconds a change may take to reach every replica (the feed polls every 0.5 s)


def kid_of(token: str) -> str:
    return str(jws.extract_compact(token.encode()).headers()["kid"])


async def published(http: httpx.AsyncClient) -> set[str]:
    return {k["kid"] for k in (await http.get("/oauth/jwks")).json()["keys"]}


async def reads(http: httpx.AsyncClient, token: str) -> int:
    response = await http.get(PRODUCTS, headers={"Authorization": f"Bearer {token}"})
    return response.status_code


async def eventually(check: Callable[[], Awaitable[bool]], within: float = WITHIN) -> float:
    """Seconds until `check()` holds; fails if it does not within `within`."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < within, f"still not true after {within} s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def obgw(settings: Settings, *args: str, **env: str) -> tuple[int, str, str]:
    """Run the `obgw` command line in a process of its own, on the gateway's database."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from gateway.cli import main; main()",
        *args,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "OBGW_DATA_DIR": str(settings.data_dir),
            "OBGW_DATABASE_URL": settings.database_url,
            "OBGW_LOG_LEVEL": "WARNING",
            **env,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def backdate_retirement(app: FastAPI, kid: str, seconds: float) -> None:
    """Pretend the key `kid` was retired `seconds` earlier than it was."""
    db = services_of(app).db
    async with db.transaction() as uow:
        row = (
            await uow.conn.execute(
                sa.select(signing_keys.c.retired_at).where(signing_keys.c.kid == kid)
            )
        ).scalar_one()
        await uow.conn.execute(
            signing_keys.update()
            .where(signing_keys.c.kid == kid)
            .values(retired_at=row - timedelta(seconds=seconds))
        )


class TestKeyRotation:
    async def test_old_tokens_survive_rotation(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """After a rotation both keys are published and a token signed before still works."""
        partner = await sandbox_partner(client)
        before = await partner_token(client, partner, "products")
        keys = services_of(app).keys
        old_kid = keys.active.kid
        new = await keys.rotate("PS256")
        document = (await client.get("/oauth/jwks")).json()
        assert {old_kid, new.kid} <= {k["kid"] for k in document["keys"]}
        assert all("d" not in k for k in document["keys"])
        after = await partner_token(client, partner, "products")
        header = jws.extract_compact(after.encode()).headers()
        assert (header["kid"], header["alg"]) == (new.kid, "PS256")
        for token in (before, after):
            assert await reads(client, token) == 200

    async def test_retired_key_keeps_no_private_part(self, app: FastAPI) -> None:
        """Rotation deletes the retired key's private part; only its public JWK stays."""
        keys = services_of(app).keys
        old_kid = keys.active.kid
        new = await keys.rotate()
        rows = {k.kid: k for k in await keys.all()}
        assert rows[old_kid].sealed is None
        assert rows[old_kid].public_jwk["kty"] in ("EC", "RSA")
        assert {"d", "p", "q"}.isdisjoint(rows[old_kid].public_jwk)
        assert rows[new.kid].sealed is not None
        with pytest.raises(KeyError):
            keys.private_key(old_kid)

    async def test_token_signed_after_retirement_is_refused(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """A retired key's token whose `iat` is after the retirement is refused; one it
        signed before still works."""
        partner = await sandbox_partner(client)
        keys = services_of(app).keys
        old = keys.active
        await keys.rotate()
        await backdate_retirement(app, old.kid, 60)
        await keys.poll()
        now = int(time.time())
        signed_by_old = {"key": old.key, "kid": old.kid, "alg": old.alg}
        claims_before = partner_claims(app, partner, iat=now - 90, nbf=now - 90, exp=now + 200)
        before = gateway_signed(app, claims_before, **signed_by_old)
        assert await reads(client, before) == 200
        after = gateway_signed(app, partner_claims(app, partner), **signed_by_old)
        response = await client.get(PRODUCTS, headers={"Authorization": f"Bearer {after}"})
        assert response.status_code == 401
        assert "retired" in response.json()["detail"]

    async def test_retired_key_leaves_after_grace(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """Once the tokens a retired key signed have all expired, it leaves the JWKS and is
        no longer trusted, without a restart."""
        partner = await sandbox_partner(client)
        keys = services_of(app).keys
        token = await partner_token(client, partner, "products")
        old_kid = kid_of(token)
        await keys.rotate()
        assert old_kid in await published(client)
        assert await reads(client, token) == 200
        await backdate_retirement(app, old_kid, keys.grace.total_seconds() + 1)

        async def gone() -> bool:
            return old_kid not in await published(client) and await reads(client, token) == 401

        await eventually(gone)
        assert await reads(client, await partner_token(client, partner, "products")) == 200


class TestKeyRevocation:
    async def test_revoked_active_key_stops_at_once(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """Revoking the active key refuses its tokens at once (cached ones too), removes it
        from the JWKS, and a new key signs from then on."""
        partner = await sandbox_partner(client)
        keys = services_of(app).keys
        token = await partner_token(client, partner, "products")
        for _ in range(2):  # verified, then served from the verification cache
            assert await reads(client, token) == 200
        revoked = await keys.revoke(kid_of(token))
        assert revoked is not None
        _, replacement = revoked
        assert replacement is not None
        assert await reads(client, token) == 401
        assert kid_of(token) not in await published(client)
        fresh = await partner_token(client, partner, "products")
        assert kid_of(fresh) == replacement.kid
        assert await reads(client, fresh) == 200

    async def test_revoked_retired_key_stops_at_once(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """Revoking a retired key refuses the tokens it signed; the active key is untouched."""
        partner = await sandbox_partner(client)
        keys = services_of(app).keys
        token = await partner_token(client, partner, "products")
        await keys.rotate()
        assert await reads(client, token) == 200
        revoked = await keys.revoke(kid_of(token))
        assert revoked is not None
        assert revoked[1] is None
        assert await reads(client, token) == 401
        assert await reads(client, await partner_token(client, partner, "products")) == 200

    async def test_unknown_key_is_not_revoked(self, app: FastAPI) -> None:
        """Revoking a kid that does not exist changes nothing."""
        keys = services_of(app).keys
        active = keys.active.kid
        assert await keys.revoke("k0-nothing") is None
        assert keys.active.kid == active


class TestKeysAcrossReplicas:
    async def test_rotation_reaches_another_replica(self, settings: Settings) -> None:
        """After `obgw keys rotate` in another process, a running replica signs with the new
        key and publishes it within seconds; tokens signed before keep working."""
        async with replicas(settings) as [(_, a), (_, b)]:
            partner = await sandbox_partner(a)
            before = await partner_token(b, partner, "products")
            code, out, err = await obgw(settings, "keys", "rotate", "--json")
            assert code == 0, err
            new_kid = json.loads(out)["kid"]

            async def signs_with_new_key() -> bool:
                token = await partner_token(b, partner, "products")
                return kid_of(token) == new_kid and new_kid in await published(b)

            assert await eventually(signs_with_new_key) < WITHIN
            for http in (a, b):
                assert await reads(http, before) == 200

    async def test_revocation_reaches_another_replica(self, settings: Settings) -> None:
        """After `obgw keys revoke` in another process, a running replica refuses the key's
        tokens and drops it from the JWKS within seconds; the new key's tokens work."""
        async with replicas(settings) as [(_, a), (_, b)]:
            partner = await sandbox_partner(a)
            token = await partner_token(b, partner, "products")
            assert await reads(b, token) == 200
            code, out, err = await obgw(settings, "keys", "revoke", kid_of(token), "--json")
            assert code == 0, err
            replacement = json.loads(out)["active"]

            async def refused() -> bool:
                return await reads(b, token) == 401 and kid_of(token) not in await published(b)

            assert await eventually(refused) < WITHIN
            fresh = await partner_token(b, partner, "products")
            assert kid_of(fresh) == replacement
            assert await reads(a, fresh) == 200


class TestCatchingUp:
    async def test_replica_catches_up_with_a_key_it_has_not_read_yet(
        self, settings: Settings
    ) -> None:
        """A replica that has not yet read a new key verifies the first token signed with
        it by re-reading the keys at once, instead of refusing it."""
        async with replicas(settings) as [(app_a, a), (app_b, b)]:
            partner = await sandbox_partner(a)
            await services_of(app_a).keys.stop()  # no periodic read: only catching up helps
            await services_of(app_b).keys.rotate()
            token = await partner_token(b, partner, "products")
            assert kid_of(token) not in {k.kid for k in services_of(app_a).keys.ring.keys}
            assert await reads(a, token) == 200

    async def test_unknown_keys_cannot_flood_the_database(self, app: FastAPI) -> None:
        """Tokens naming keys that do not exist are refused after at most one extra read of
        the keys per 0.2 s, however many arrive at once."""
        keys = services_of(app).keys
        reads_of_keys = 0
        poll = keys.poll

        async def counted() -> None:
            nonlocal reads_of_keys
            reads_of_keys += 1
            await poll()

        keys.poll = counted  # type: ignore[method-assign]
        issuer = services_of(app).settings.issuer
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=issuer) as http:
            partner = await sandbox_partner(http)
            forged = [
                gateway_signed(
                    app, partner_claims(app, partner), key=ECKey.generate_key("P-256"), kid=kid
                )
                for kid in (f"k-unknown-{i}" for i in range(40))
            ]
            started = time.monotonic()
            statuses = await asyncio.gather(*(reads(http, token) for token in forged))
            elapsed = time.monotonic() - started
        assert set(statuses) == {401}
        assert 1 <= reads_of_keys <= 2 + elapsed / 0.2


class TestKeysAtRest:
    async def test_private_key_is_sealed_under_the_gateway_secret(self, app: FastAPI) -> None:
        """The stored private key opens only with the gateway secret."""
        services = services_of(app)
        row = next(k for k in await services.keys.all() if k.is_active)
        assert row.sealed is not None
        assert '"d"' not in row.sealed
        assert KeySealer(services.secret).open(row).kid == row.kid
        with pytest.raises(SigningKeyError, match="OBGW_SECRET_KEY"):
            KeySealer(b"another secret of at least thirty-two bytes").open(row)

    async def test_command_line_refuses_another_secret(
        self, app: FastAPI, settings: Settings
    ) -> None:
        """`obgw keys rotate` with another gateway secret is refused and writes nothing; with
        the gateway's secret it rotates."""
        keys = services_of(app).keys
        before = {k.kid for k in await keys.all()}
        code, _, err = await obgw(
            settings, "keys", "rotate", OBGW_SECRET_KEY="x" * 32 + "-not-the-gateway-secret"
        )
        assert code == 2
        assert "OBGW_SECRET_KEY" in err
        assert {k.kid for k in await keys.all()} == before
        code, out, err = await obgw(settings, "keys", "rotate", "--json")
        assert code == 0, err
        assert json.loads(out)["kid"] in {k.kid for k in await keys.all()}

    async def test_first_starts_agree_on_one_key(self, tmp_path: Path) -> None:
        """Replicas starting together on an empty database all sign with the same key."""
        settings = make_settings(tmp_path)
        applications = [create_app(settings) for _ in range(4)]
        await services_of(applications[0]).db.upgrade()
        await asyncio.gather(*(services_of(a).keys.ensure() for a in applications))
        assert len({services_of(a).keys.active.kid for a in applications}) == 1
        for application in applications:
            await services_of(application).db.dispose()

    async def test_keys_file_of_an_earlier_version_is_imported(self, tmp_path: Path) -> None:
        """A `keys.json` from an earlier version becomes the database's keys on the first
        start, its tokens keep working, and the file holding private keys is removed."""
        settings = make_settings(tmp_path)
        legacy = ECKey.generate_key("P-256", parameters={"kid": "k1-legacy", "alg": "ES256"})
        path = Path(settings.data_dir) / "keys.json"
        path.parent.mkdir(parents=True)
        entry = {"kid": "k1-legacy", "alg": "ES256", "jwk": legacy.as_dict(private=True)}
        path.write_text(json.dumps({"keys": [{**entry, "created_at": 1.0, "retired_at": None}]}))
        application = create_app(settings)
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url=settings.issuer) as http:
                partner = await sandbox_partner(http)
                assert services_of(application).keys.active.kid == "k1-legacy"
                token = gateway_signed(
                    application, partner_claims(application, partner), key=legacy
                )
                assert await reads(http, token) == 200
                assert await published(http) == {"k1-legacy"}
        assert not path.exists()
