"""A school collects a term's tuition through the bank and reconciles the day.

What a school's developer would write against the obgw sandbox, with a standard OAuth client
library (requests-oauth2client) and `requests`:

1. sign up in the sandbox and get the school's client credentials;
2. issue the term's tuition bills (one per pupil, each with its own Idempotency-Key);
3. a parent consents, in the bank's authorize step, to pay their child's bill, and the school
   pays it with the parent's DPoP-bound token (PAR, PKCE, DPoP);
4. other parents pay at the bank: counter, ATM or mobile banking (the sandbox's bank channel);
5. fetch today's statement as JSON and as CSV, check the CSV against the digest, and
   reconcile it with the bills to the cent.

    python examples/school_tuition.py --base-url http://127.0.0.1:8000 [--pupils 6]

It prints what it does and exits non-zero if anything does not reconcile.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import requests
from requests_oauth2client import ClientSecretBasic, DPoPKey, OAuth2Client

CALLBACK = "http://127.0.0.1/callback"
SCHOOL_ACCOUNT = {"account_number": "6217001234567890123", "name": "阳光小学"}
CHINA = timezone(timedelta(hours=8))
TIMEOUT = 10


def check(response: requests.Response, *expected: int) -> Any:
    """The JSON body of a response with one of the expected statuses; else stop loudly."""
    if response.status_code not in expected:
        raise SystemExit(
            f"{response.request.method} {response.url}: {response.status_code} {response.text}"
        )
    return response.json() if response.content else None


def sign_up(base: str) -> dict[str, Any]:
    body = {
        "partner_name": "阳光小学 Sunshine Primary School",
        "sector": "school",
        "contact_email": "bursar@sunshine.example",
    }
    return dict(check(requests.post(f"{base}/sandbox/signup", json=body, timeout=TIMEOUT), 201))


def oauth_client(base: str, school: dict[str, Any]) -> OAuth2Client:
    metadata = requests.get(f"{base}/.well-known/oauth-authorization-server", timeout=TIMEOUT)
    return OAuth2Client.from_discovery_document(
        check(metadata, 200),
        issuer=base,
        auth=ClientSecretBasic(school["client_id"], school["client_secret"]),
        redirect_uri=CALLBACK,
        dpop_bound_access_tokens=True,
        testing=True,  # the sandbox's loopback http issuer
    )


def issue_bills(base: str, token: Any, pupils: int, due: date) -> list[dict[str, Any]]:
    bills = []
    for number in range(1, pupils + 1):
        bill = {
            "payer_reference": f"S2026-{number:04d}",
            "payer_name": f"学生{number:02d}",
            "amount": {"value": f"{3800 + number * 10}.00", "currency": "CNY"},
            "due_date": due.isoformat(),
            "category": "tuition",
            "description": "2026 秋季学期学费 Autumn term tuition",
        }
        headers = {"Idempotency-Key": f"tuition-2026-autumn-{number:04d}-{uuid.uuid4().hex[:8]}"}
        created = requests.post(
            f"{base}/v1/collections/bills", json=bill, headers=headers, auth=token, timeout=TIMEOUT
        )
        bills.append(check(created, 201))
    print(f"issued {len(bills)} tuition bills, due {due}")
    return bills


def parent_pays(
    base: str, oauth: OAuth2Client, school: dict[str, Any], bill: dict[str, Any]
) -> str:
    """A parent consents to paying one bill; the school pays it with the parent's token."""
    partner_token = oauth.client_credentials(scope="consents")
    terms = {"amount": bill["amount"], "creditor": SCHOOL_ACCOUNT, "reference": bill["pay_code"]}
    consent = check(
        requests.post(
            f"{base}/v1/consents",
            json={"type": "payment", "permissions": ["InitiatePayments"], "payment": terms},
            auth=partner_token,
            timeout=TIMEOUT,
        ),
        201,
    )
    dpop_key = DPoPKey.generate(alg="ES256")
    request = oauth.authorization_request(
        scope="payments", consent_id=consent["consent_id"], dpop_key=dpop_key
    )
    pushed = oauth.pushed_authorization_request(request)
    # In production the parent approves in the bank's pages (/oauth/authorize, with a
    # one-time code bound to these terms); the sandbox offers the same step headless.
    approved = check(
        requests.post(
            f"{base}/sandbox/authorize",
            json={"request_uri": pushed.request_uri, "customer": "zhang.wei"},
            auth=(school["client_id"], school["client_secret"]),
            timeout=TIMEOUT,
        ),
        200,
    )
    token = oauth.authorization_code(request.validate_callback(approved["redirect_to"]))
    authorised = check(
        requests.get(
            f"{base}/v1/consents/{consent['consent_id']}", auth=partner_token, timeout=TIMEOUT
        ),
        200,
    )
    payment = {
        "consent_id": consent["consent_id"],
        "debtor_account_id": authorised["account_ids"][0],
        **terms,
        "bill_id": bill["bill_id"],
    }
    paid = check(
        requests.post(
            f"{base}/v1/payments",
            json=payment,
            headers={"Idempotency-Key": str(uuid.uuid4())},
            auth=token,
            timeout=TIMEOUT,
        ),
        201,
    )
    print(
        f"a parent paid {bill['payer_reference']} online: {paid['status']} ({paid['payment_id']})"
    )
    return str(paid["payment_id"])


def pay_at_bank(base: str, school: dict[str, Any], bill: dict[str, Any], channel: str) -> None:
    paid = check(
        requests.post(
            f"{base}/sandbox/bills/{bill['bill_id']}/pay",
            json={"channel": channel},
            auth=(school["client_id"], school["client_secret"]),
            timeout=TIMEOUT,
        ),
        200,
    )
    print(f"a parent paid {bill['payer_reference']} at the bank ({channel}): {paid['status']}")


def reconcile(base: str, token: Any, paid: dict[str, dict[str, Any]], day: date) -> None:
    """The day's statement in JSON and CSV: same digest, every paid bill, totals to the cent."""
    url = f"{base}/v1/collections/statements/{day.isoformat()}"
    statement = check(requests.get(url, auth=token, timeout=TIMEOUT), 200)
    csv = requests.get(url, auth=token, headers={"Accept": "text/csv"}, timeout=TIMEOUT)
    check_csv = csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    if not check_csv:
        raise SystemExit(f"no CSV statement: {csv.status_code} {csv.text}")
    digest = hashlib.sha256(csv.content).hexdigest()
    if digest != statement["digest"]:
        raise SystemExit(f"the CSV does not match the statement's digest: {digest}")
    if csv.headers.get("Statement-Digest") != f"sha-256={digest}":
        raise SystemExit(
            f"unexpected Statement-Digest header: {csv.headers.get('Statement-Digest')}"
        )
    listed = {item["bill_id"]: item for item in statement["items"]}
    if set(listed) != set(paid):
        raise SystemExit(f"statement lists {sorted(listed)}, paid were {sorted(paid)}")
    expected = sum((Decimal(b["amount"]["value"]) for b in paid.values()), Decimal("0.00"))
    if Decimal(statement["total"]["value"]) != expected or statement["count"] != len(paid):
        raise SystemExit(f"totals differ: {statement['total']} for {statement['count']} items")
    lines = csv.content.decode().strip().split("\r\n")
    print(
        f"statement {day}: {statement['count']} payments, {statement['total']['value']} CNY, "
        f"{len(lines) - 1} CSV lines, digest {digest[:16]}… verified"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A school's term of tuition through obgw.")
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--pupils", type=int, default=6)
    args = parser.parse_args(argv)
    base = args.base_url.rstrip("/")

    school = sign_up(base)
    print(f"signed up as {school['partner_id']} (client {school['client_id']})")
    oauth = oauth_client(base, school)
    collections = oauth.client_credentials(scope="collections")
    today = datetime.now(CHINA).date()
    bills = issue_bills(base, collections, args.pupils, today + timedelta(days=30))

    paid: dict[str, dict[str, Any]] = {}
    online = bills[0]
    parent_pays(base, oauth, school, online)
    paid[online["bill_id"]] = online
    for bill, channel in zip(bills[1:4], ("counter", "atm", "mobile_banking"), strict=False):
        pay_at_bank(base, school, bill, channel)
        paid[bill["bill_id"]] = bill

    for bill in bills:
        current = check(
            requests.get(
                f"{base}/v1/collections/bills/{bill['bill_id']}", auth=collections, timeout=TIMEOUT
            ),
            200,
        )
        expected = "Paid" if bill["bill_id"] in paid else "Open"
        if current["status"] != expected:
            raise SystemExit(f"{bill['payer_reference']} is {current['status']}, not {expected}")
    day = (
        datetime.fromisoformat(
            check(
                requests.get(
                    f"{base}/v1/collections/bills/{online['bill_id']}",
                    auth=collections,
                    timeout=TIMEOUT,
                ),
                200,
            )["settled_at"].replace("Z", "+00:00")
        )
        .astimezone(CHINA)
        .date()
    )
    reconcile(base, collections, paid, day)
    print("reconciled: every paid bill is on the statement, to the cent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
