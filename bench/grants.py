"""Set-up over HTTP: a sandbox partner and customer-consented tokens, as a partner gets them.

The same flows as `tests.factories.customer_grant` and `payment_grant`, with a synchronous
`httpx.Client`: client credentials → consent → PAR → /sandbox/authorize → authorization-code
exchange (with a DPoP proof when the token is to be DPoP-bound).
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
CUSTOMER = "zhang.wei"


@dataclass(frozen=True)
class Partner:
    """A sandbox partner's confidential client."""

    client_id: str
    client_secret: str
    partner_id: str

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
    return Partner(body["client_id"], body["client_secret"], body["partner_id"])


def _pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def partner_token(client: httpx.Client, partner: Partner, scope: str = "consents") -> str:
    """A client-credentials access token of the partner."""
    issued = _expect(
        client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "scope": scope},
            auth=partner.basic,
        ),
        200,
    )
    return str(issued["access_token"])


def _consent(client: httpx.Client, consents_token: str, body: dict[str, Any]) -> str:
    created = _expect(
        client.post(
            "/v1/consents", json=body, headers={"Authorization": f"Bearer {consents_token}"}
        ),
        201,
    )
    return str(created["consent_id"])


def _authorised_token(
    client: httpx.Client, partner: Partner, consent_id: str, scope: str, key: ProofKey | None
) -> tuple[str, float]:
    """PAR → the customer approves at /sandbox/authorize → code exchange: (token, expiry)."""
    verifier, challenge = _pkce_pair()
    form = {
        "response_type": "code",
        "client_id": partner.client_id,
        "redirect_uri": CALLBACK,
        "scope": scope,
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
            json={"request_uri": request_uri, "customer": CUSTOMER},
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
    expected_type = "DPoP" if key is not None else "Bearer"
    if issued.get("token_type", "").lower() != expected_type.lower():
        raise RuntimeError(f"expected a {expected_type} token, got {issued.get('token_type')}")
    return issued["access_token"], time.time() + float(issued.get("expires_in", 300))


def customer_grant(client: httpx.Client, partner: Partner, *, dpop: bool) -> Grant:
    """Consent → PAR → /sandbox/authorize → token; DPoP-bound when `dpop`."""
    consent_id = _consent(
        client,
        partner_token(client, partner),
        {"type": "account_access", "permissions": PERMISSIONS},
    )
    key = ProofKey() if dpop else None
    token, expires_at = _authorised_token(client, partner, consent_id, "accounts", key)
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


@dataclass(frozen=True)
class PaymentGrant:
    """A customer's payment consent, its (Bearer) token and the `POST /v1/payments` body the
    consent allows."""

    partner_id: str
    access_token: str
    expires_at: float
    body: dict[str, Any]


def payment_grant(
    client: httpx.Client, partner: Partner, consents_token: str, terms: dict[str, Any]
) -> PaymentGrant:
    """Payment consent for `terms` → PAR (scope `payments`) → /sandbox/authorize → token, and
    the debtor account the customer chose (`account_ids[0]` of the consent)."""
    consent_id = _consent(
        client,
        consents_token,
        {"type": "payment", "permissions": ["InitiatePayments"], "payment": terms},
    )
    token, expires_at = _authorised_token(client, partner, consent_id, "payments", None)
    consent = _expect(
        client.get(
            f"/v1/consents/{consent_id}", headers={"Authorization": f"Bearer {consents_token}"}
        ),
        200,
    )
    if consent.get("status") != "Authorised" or not consent.get("account_ids"):
        raise RuntimeError(f"consent {consent_id} is not authorised with an account: {consent}")
    body = {"consent_id": consent_id, "debtor_account_id": consent["account_ids"][0], **terms}
    return PaymentGrant(partner.partner_id, token, expires_at, body)


def reset_world(client: httpx.Client, partner: Partner) -> int:
    """`POST /sandbox/reset`: the partner's sandbox world regenerated from its next seed (new
    balances, no transfers); returns the seed."""
    return int(_expect(client.post("/sandbox/reset", auth=partner.basic), 200)["seed"])
