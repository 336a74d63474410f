"""The strict FAPI 2.0 profile end to end: private_key_jwt, PAR, PKCE, DPoP everywhere."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import requests
from jwskate import Jwk
from requests_oauth2client import DPoPKey, OAuth2Client, PrivateKeyJwt

from gateway.cli import _registry
from gateway.storage.database import Database
from policies.vocabulary import CUSTOMER_SCOPES, PARTNER_SCOPES
from tests.conftest import LiveServer, free_port, make_settings

CALLBACK = "http://127.0.0.1/callback"


@pytest.fixture
def strict_server(tmp_path: Path) -> LiveServer:
    settings = make_settings(
        tmp_path, issuer=f"http://127.0.0.1:{free_port()}", fapi_profile="strict"
    )
    return LiveServer(settings)


class TestStrictProfile:
    def test_private_key_jwt_par_dpop_journey(self, strict_server: LiveServer) -> None:
        """A key-based client completes the customer flow; a bearer token is never accepted."""
        with strict_server as server:
            base = server.url
            key = Jwk.generate(alg="ES256", kid="k1")

            async def register() -> str:
                # What `obgw clients create --jwks-file` does, on the same database.
                db = Database(server.settings.database_url)
                try:
                    registry = _registry(db)
                    partner = await registry.create_partner("政务服务平台", "government")
                    issued = await registry.create_client(
                        partner_id=partner.id,
                        scopes=[*PARTNER_SCOPES, *CUSTOMER_SCOPES],
                        redirect_uris=[CALLBACK],
                        jwks={"keys": [dict(key.public_jwk())]},
                    )
                finally:
                    await db.dispose()
                return issued.client.client_id

            client_id = asyncio.run(register())
            meta = requests.get(f"{base}/.well-known/oauth-authorization-server", timeout=10).json()
            assert meta["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
            oauth = OAuth2Client.from_discovery_document(
                meta,
                issuer=base,
                redirect_uri=CALLBACK,
                testing=True,
                auth=PrivateKeyJwt(client_id, key, alg="ES256", aud=base),
                dpop_bound_access_tokens=True,
            )
            partner_token = oauth.client_credentials(scope="consents")
            assert partner_token.token_type.lower() == "dpop"
            consent = requests.post(
                f"{base}/v1/consents",
                auth=partner_token,
                timeout=10,
                json={
                    "type": "account_access",
                    "permissions": ["ReadAccountsBasic", "ReadBalances"],
                },
            )
            assert consent.status_code == 201, consent.text

            dpop_key = DPoPKey.generate(alg="ES256")
            request = oauth.authorization_request(
                scope="accounts", consent_id=consent.json()["consent_id"], dpop_key=dpop_key
            )
            pushed = oauth.pushed_authorization_request(request)
            approved = requests.post(
                f"{base}/sandbox/authorize",
                auth=partner_token,
                timeout=10,
                json={"request_uri": pushed.request_uri, "customer": "li.na"},
            )
            assert approved.status_code == 200, approved.text
            token = oauth.authorization_code(
                request.validate_callback(approved.json()["redirect_to"])
            )
            accounts = requests.get(f"{base}/v1/accounts", auth=token, timeout=10)
            assert accounts.status_code == 200, accounts.text

            as_bearer = requests.get(
                f"{base}/v1/accounts",
                timeout=10,
                headers={"Authorization": f"Bearer {token.access_token}"},
            )
            assert as_bearer.status_code == 401
