"""The whole customer journey against a running server, driven by requests-oauth2client."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from requests_oauth2client import ClientSecretBasic, DPoPKey, OAuth2Client

from tests.conftest import LiveServer, free_port, make_settings


def _ath(token: str) -> str:
    digest = hashlib.sha256(token.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


CALLBACK = "http://127.0.0.1/callback"


def _signup(base: str) -> dict[str, str]:
    response = requests.post(
        f"{base}/sandbox/signup",
        timeout=10,
        json={
            "partner_name": "Metro Transport 地铁",
            "sector": "transport",
            "contact_email": "dev@metro.example",
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture(params=[False, True], ids=["no-nonce", "dpop-nonce"])
def journey_server(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> Iterator[LiveServer]:
    """A live server, with and without mandatory DPoP nonces (RFC 9449 §8)."""
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else ""
    settings = make_settings(
        tmp_path, url, issuer=f"http://127.0.0.1:{free_port()}", dpop_require_nonce=request.param
    )
    with LiveServer(settings) as server:
        yield server


class TestCustomerJourney:
    def test_consent_par_authorize_token_read_refresh_revoke(
        self, journey_server: LiveServer
    ) -> None:
        """Consent → PAR (PKCE, DPoP) → authorize → token → read → refresh → revoke → refused."""
        base = journey_server.url
        partner = _signup(base)
        auth = ClientSecretBasic(partner["client_id"], partner["client_secret"])
        oauth = OAuth2Client.from_discovery_document(
            requests.get(f"{base}/.well-known/oauth-authorization-server", timeout=10).json(),
            issuer=base,
            auth=auth,
            redirect_uri=CALLBACK,
            dpop_bound_access_tokens=True,
            testing=True,  # loopback http issuer
        )
        partner_token = oauth.client_credentials(scope="consents")
        consent = requests.post(
            f"{base}/v1/consents",
            auth=partner_token,
            timeout=10,
            json={
                "type": "account_access",
                "permissions": ["ReadAccountsBasic", "ReadAccountsDetail", "ReadBalances"],
            },
        )
        assert consent.status_code == 201, consent.text
        consent_id = consent.json()["consent_id"]

        dpop_key = DPoPKey.generate(alg="ES256")
        request = oauth.authorization_request(
            scope="accounts", consent_id=consent_id, dpop_key=dpop_key
        )
        pushed = oauth.pushed_authorization_request(request)
        approved = requests.post(
            f"{base}/sandbox/authorize",
            auth=(partner["client_id"], partner["client_secret"]),
            timeout=10,
            json={"request_uri": pushed.request_uri, "customer": "zhang.wei"},
        )
        assert approved.status_code == 200, approved.text
        callback = request.validate_callback(approved.json()["redirect_to"])  # state and iss
        token = oauth.authorization_code(callback)
        assert token.token_type.lower() == "dpop"
        assert token.refresh_token

        accounts = requests.get(f"{base}/v1/accounts", auth=token, timeout=10)
        assert accounts.status_code == 200, accounts.text
        assert accounts.headers["Cache-Control"] == "no-store"
        first = accounts.json()["data"][0]
        assert first["account_number"].isdigit()
        balances = requests.get(
            f"{base}/v1/accounts/{first['account_id']}/balances", auth=token, timeout=10
        )
        assert balances.status_code == 200, balances.text
        assert {b["type"] for b in balances.json()["data"]} == {"InterimAvailable", "InterimBooked"}

        if journey_server.settings.dpop_require_nonce:  # the nonce dance really happened
            assert dpop_key.as_nonce
            assert dpop_key.rs_nonce
        refreshed = oauth.refresh_token(token)
        assert refreshed.access_token != token.access_token
        again = requests.get(f"{base}/v1/accounts", auth=refreshed, timeout=10)
        assert again.status_code == 200, again.text

        oauth.revoke_access_token(refreshed)
        # A raw request: the library's auth hook treats any DPoP 401 as a nonce challenge.
        url = f"{base}/v1/accounts"
        refused = requests.get(
            url,
            timeout=10,
            headers={
                "Authorization": f"DPoP {refreshed.access_token}",
                "DPoP": str(
                    dpop_key.proof("GET", url, _ath(refreshed.access_token), dpop_key.rs_nonce)
                ),
            },
        )
        assert refused.status_code == 401
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert "account_id" not in refused.text
