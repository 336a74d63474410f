"""Signing-key rotation: new tokens use the new key, old tokens keep verifying until expiry."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from fastapi import FastAPI

from gateway.oauth.keys import KeyStore
from tests.factories import partner_token, sandbox_partner, services_of


class TestKeyRotation:
    async def test_old_tokens_survive_rotation(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """After a rotation both keys are published and a token signed before still works."""
        partner = await sandbox_partner(client)
        before = await partner_token(client, partner, "products")
        keys = services_of(app).keys
        old_kid = keys.active.kid
        new = keys.rotate("PS256")
        published = {k["kid"] for k in (await client.get("/oauth/jwks")).json()["keys"]}
        assert {old_kid, new.kid} <= published
        assert all("d" not in k for k in (await client.get("/oauth/jwks")).json()["keys"])
        after = await partner_token(client, partner, "products")
        from joserfc import jws

        assert jws.extract_compact(after.encode()).headers()["kid"] == new.kid
        assert jws.extract_compact(after.encode()).headers()["alg"] == "PS256"
        for token in (before, after):
            response = await client.get(
                "/v1/products/deposits", headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 200

    def test_retired_key_unpublished_after_grace(self, tmp_path: Path) -> None:
        """A retired key leaves the JWKS once every token it signed has expired."""
        store = KeyStore(tmp_path / "keys.json", publish_grace=0.2)
        store.ensure()
        first = store.active.kid
        store.rotate()
        assert first in {k["kid"] for k in store.jwks()["keys"]}
        time.sleep(0.3)
        store.rotate()
        assert first not in {k["kid"] for k in store.jwks()["keys"]}

    def test_file_is_private(self, tmp_path: Path) -> None:
        """The key file is readable by its owner only."""
        store = KeyStore(tmp_path / "keys.json", publish_grace=10)
        store.ensure()
        assert (tmp_path / "keys.json").stat().st_mode & 0o077 == 0
        assert json.loads((tmp_path / "keys.json").read_text())["keys"][0]["jwk"]["d"]

    def test_concurrent_first_start_agrees_on_one_key(self, tmp_path: Path) -> None:
        """Workers starting together all end up with the same first key."""
        from concurrent.futures import ThreadPoolExecutor

        def start() -> str:
            store = KeyStore(tmp_path / "keys.json", publish_grace=10)
            store.ensure()
            return store.active.kid

        with ThreadPoolExecutor(8) as pool:
            kids = set(pool.map(lambda _: start(), range(16)))
        assert len(kids) == 1
        assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]
