"""Set-up over HTTP: a sandbox partner and customer-consented tokens, as a partner gets them.

The same flow as `tests.factories.customer_grant`, with a synchronous `httpx.Client`:
client credentials → consent → PAR → /sandbox/authorize → authorization-code exchange
(with a DPoP proof when the token is to be DPoP-bound).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx

from bench.proofs import ProofKey

CALLBACK = "http://127.0.0.1/callback"
PERMISSIONS = ["ReadAccountsBasic", "ReadAccountsDetail", "ReadBalances"]


@dataclass(frozen=True)
class Partner:
    """A sandbox partner's confidential client."""

    client_id: str
    client_secret: str

    @property
    def basic(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(self.client_id, self.client_secret)


@dataclass(frozen=True)
class Grant:
    """A customer-consented access token, its account and (when DPoP-bound) its key."""

    access_token: str
    expires_at: float
    account_id: str
    dpop_key: ProofKey | None

    @property
    def seconds_left(self) -> float:
        return self.expires_at - time.time()


def origin(client: httpx.Client) -> str:
    """The client's base URL without the trailing slash httpx adds (the DPoP `htu` origin)."""
    return str(client.base_url).rstrip("/")


def _expect(response: httpx.Response, status: int) -> dict[str, Any]:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}, expected {status}: {response.text}"
        )
    body: dict[str, Any] = response.json()
    return body


def sign_up(client: httpx.Client) -> Partner:
    """A new sandbox partner through the public sign-up endpoint."""
    body = _expect(
        client.post(
            "/sandbox/signup",
            json={"partner_name": "Bench School", "sector": "school", "contact_email": "b@x.test"},
        ),
        201,
    )
    return Partner(body["client_id"], body["client_secret"])


def _pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def customer_grant(client: httpx.Client, partner: Partner, *, dpop: bool) -> Grant:
    """Consent → PAR → /sandbox/authorize → token; DPoP-bound when `dpop`."""
    partner_token = _expect(
        client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "scope": "consents"},
            auth=partner.basic,
        ),
        200,
    )["access_token"]
    consent_id = _expect(
        client.post(
            "/v1/consents",
            json={"type": "account_access", "permissions": PERMISSIONS},
            headers={"Authorization": f"Bearer {partner_token}"},
        ),
        201,
    )["consent_id"]
    verifier, challenge = _pkce_pair()
    key = ProofKey() if dpop else None
    form = {
        "response_type": "code",
        "client_id": partner.client_id,
        "redirect_uri": CALLBACK,
        "scope": "accounts",
        "state": "bench",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "consent_id": consent_id,
    }
    if key is not None:
        form["dpop_jkt"] = key.jkt
    request_uri = _expect(client.post("/oauth/par", data=form, auth=partner.basic), 201)[
        "request_uri"
    ]
    redirect = _expect(
        client.post(
            "/sandbox/authorize",
            json={"request_uri": request_uri, "customer": "zhang.wei"},
            auth=partner.basic,
        ),
        200,
    )["redirect_to"]
    headers = {}
    if key is not None:
        headers["DPoP"] = key.proof("POST", f"{origin(client)}/oauth/token")
    issued = _expect(
        client.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": httpx.URL(redirect).params["code"],
                "redirect_uri": CALLBACK,
                "code_verifier": verifier,
            },
            auth=partner.basic,
            headers=headers,
        ),
        200,
    )
    expected_type = "DPoP" if dpop else "Bearer"
    if issued.get("token_type", "").lower() != expected_type.lower():
        raise RuntimeError(f"expected a {expected_type} token, got {issued.get('token_type')}")
    token = issued["access_token"]
    expires_at = time.time() + float(issued.get("expires_in", 300))
    accounts = _expect(
        client.get("/v1/accounts", headers=auth_headers(client, token, key, "/v1/accounts")),
        200,
    )["data"]
    if not accounts:
        raise RuntimeError("the consent has no accounts")
    return Grant(token, expires_at, accounts[0]["account_id"], key)


def auth_headers(
    client: httpx.Client, token: str, key: ProofKey | None, path: str
) -> dict[str, str]:
    """`Authorization` (and a fresh `DPoP` proof for `GET path` when the token is bound)."""
    if key is None:
        return {"Authorization": f"Bearer {token}"}
    return {
        "Authorization": f"DPoP {token}",
        "DPoP": key.proof("GET", f"{origin(client)}{path}", token),
    }


def balances_path(grant: Grant) -> str:
    return f"/v1/accounts/{grant.account_id}/balances"


def fetch_balances(client: httpx.Client, grant: Grant) -> dict[str, Any]:
    """One balances read with the grant's credentials (checks the set-up works end to end)."""
    path = balances_path(grant)
    headers = auth_headers(client, grant.access_token, grant.dpop_key, path)
    return _expect(client.get(path, headers=headers), 200)
