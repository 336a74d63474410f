"""The payment phase's set-up and its ledger check.

Each consent pays exactly once, so every `POST /v1/payments` of the phase needs its own
payment consent, token and `Idempotency-Key`. `prepare` gets them over HTTP with a thread
pool (one `httpx.Client` per worker), spread round-robin over several sandbox partners, and
`write_requests` writes one request per line for bench/lua/payments.lua. `check_capacity`
stops the run before it starts if an account could not pay or a partner would reach its
tier's daily cap. After the phase, `Ledger` reads the gateway's SQLite database (payments,
their events, their stored answers) and `reconcile` shows that the gateway holds one payment
per 201 answer and that no answer was an idempotent replay.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bench import grants
from policies.catalog import load_catalog

AMOUNT = "1.00"
CREDITOR = {"account_number": "6222020200112233445", "name": "市医院"}
PAYMENT_PRODUCT = "payments.create"
STATUS_EVENT = "payment.status_changed"


def terms(number: int) -> dict[str, Any]:
    """The payment consent's terms: the same small amount and creditor, its own reference."""
    return {
        "amount": {"value": AMOUNT, "currency": "CNY"},
        "creditor": CREDITOR,
        "reference": f"bench {number}",
    }


def prepare(
    base_url: str, partners: Sequence[grants.Partner], count: int, workers: int, start: int = 0
) -> list[grants.PaymentGrant]:
    """`count` payment grants, number `start + i` for partner `i % len(partners)`, made by
    `workers` threads and returned in order, so every prefix spreads over all partners."""
    local = threading.local()
    clients: list[httpx.Client] = []
    lock = threading.Lock()

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base_url, timeout=30.0)
            with lock:
                clients.append(local.client)
        http: httpx.Client = local.client
        return http

    with httpx.Client(base_url=base_url, timeout=30.0) as http:
        tokens = [grants.partner_token(http, partner) for partner in partners]

    def one(i: int) -> grants.PaymentGrant:
        k = i % len(partners)
        return grants.payment_grant(client(), partners[k], tokens[k], terms(start + i))

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(one, range(count)))
    finally:
        for http in clients:
            http.close()


def write_requests(path: Path, prepared: Iterable[grants.PaymentGrant]) -> int:
    """One request per line, `<access token> TAB <Idempotency-Key> TAB <JSON body>`, each
    with a fresh key; returns the number of lines."""
    lines = 0
    with path.open("w", encoding="utf-8") as fh:
        for grant in prepared:
            body = json.dumps(grant.body, ensure_ascii=False, separators=(",", ":"))
            fh.write(f"{grant.access_token}\t{uuid.uuid4().hex}\t{body}\n")
            lines += 1
    return lines


def check_capacity(
    http: httpx.Client,
    database: Path,
    partners: Sequence[grants.Partner],
    prepared: Sequence[grants.PaymentGrant],
) -> None:
    """SystemExit unless every debtor account holds enough available money for all the
    payments prepared on it, and no partner would pass its tier's daily cap."""
    cents = int(Decimal(AMOUNT) * 100)
    per_account = Counter((g.partner_id, g.body["debtor_account_id"]) for g in prepared)
    per_partner = Counter(g.partner_id for g in prepared)
    room = daily_room(database, [p.partner_id for p in partners])
    for partner in partners:
        planned = per_partner[partner.partner_id] * cents
        if planned > room[partner.partner_id]:
            raise SystemExit(
                f"partner {partner.partner_id} may pay {room[partner.partner_id] / 100:.2f} CNY "
                f"more today (its tier's daily cap in policies/catalog.yaml), the phase needs "
                f"{planned / 100:.2f}: use more --payment-partners or a shorter phase"
            )
        accounts = [a for p, a in per_account if p == partner.partner_id]
        funds = available(http, partner, accounts)
        for account in accounts:
            needed = per_account[partner.partner_id, account] * cents
            if needed > funds[account]:
                raise SystemExit(
                    f"account {account} of {grants.CUSTOMER} ({partner.partner_id}) holds "
                    f"{funds[account] / 100:.2f} CNY, the phase pays {needed / 100:.2f} from it"
                )


def daily_room(database: Path, partner_ids: Sequence[str]) -> dict[str, int]:
    """Cents each partner may still pay before its tier's daily cap (whatever it reserved on
    any day counts, which is stricter than the gateway's per-day total)."""
    catalog = load_catalog()
    marks = ",".join("?" * len(partner_ids))
    with _connect(database) as db:
        tiers = dict(
            db.execute(f"SELECT id, tier FROM partners WHERE id IN ({marks})", partner_ids)
        )
        reserved = dict(
            db.execute(
                "SELECT partner_id, sum(amount_cents) FROM risk_totals "
                f"WHERE partner_id IN ({marks}) GROUP BY partner_id",
                partner_ids,
            )
        )
    return {
        p: int(catalog.risk_limit(tiers[p]).daily * 100) - int(reserved.get(p) or 0)
        for p in partner_ids
    }


def available(
    http: httpx.Client, partner: grants.Partner, account_ids: Sequence[str]
) -> dict[str, int]:
    """The available balance of each account in cents, read through an account-access
    consent of the same customer."""
    reader = grants.customer_grant(http, partner, dpop=False)
    funds = {}
    for account in account_ids:
        response = http.get(
            f"/v1/accounts/{account}/balances",
            headers={"Authorization": f"Bearer {reader.access_token}"},
        )
        response.raise_for_status()
        balance = next(b for b in response.json()["data"] if b["type"] == "InterimAvailable")
        value = int(Decimal(balance["amount"]["value"]) * 100)
        funds[account] = value if balance["credit_debit"] == "Credit" else -value
    return funds


def _connect(database: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30.0)


@dataclass(frozen=True)
class Ledger:
    """What the gateway's database holds for some partners at one moment."""

    payment_ids: frozenset[str]
    statuses: dict[str, int]
    events: int
    stored_answers: int
    debited_cents: int

    @classmethod
    def read(
        cls, database: Path, partners: Sequence[grants.Partner], settle: float = 5.0
    ) -> Ledger:
        """Read the ledger once it has not changed for a second (requests that wrk left in
        flight finish after it exits), waiting at most `settle` seconds."""
        deadline = time.monotonic() + settle
        ledger = cls._read(database, partners)
        while time.monotonic() < deadline:
            time.sleep(1.0)
            again = cls._read(database, partners)
            if again == ledger:
                break
            ledger = again
        return ledger

    @classmethod
    def _read(cls, database: Path, partners: Sequence[grants.Partner]) -> Ledger:
        partner_ids = [p.partner_id for p in partners]
        client_ids = [p.client_id for p in partners]
        marks = ",".join("?" * len(partners))
        with _connect(database) as db:
            rows = db.execute(
                f"SELECT id, status, amount_cents FROM payments WHERE partner_id IN ({marks})",
                partner_ids,
            ).fetchall()
            events = db.execute(
                f"SELECT count(*) FROM events WHERE type = ? AND partner_id IN ({marks})",
                (STATUS_EVENT, *partner_ids),
            ).fetchone()[0]
            answers = db.execute(
                "SELECT count(*) FROM idempotency_keys WHERE product = ? AND state = ? "
                f"AND status_code = 201 AND client_id IN ({marks})",
                (PAYMENT_PRODUCT, "completed", *client_ids),
            ).fetchone()[0]
        return cls(
            payment_ids=frozenset(r[0] for r in rows),
            statuses=dict(Counter(r[1] for r in rows)),
            events=int(events),
            stored_answers=int(answers),
            debited_cents=sum(int(r[2]) for r in rows),
        )


@dataclass(frozen=True)
class Reconciliation:
    """The phase's payments in the gateway against the 201 answers wrk received."""

    payments: int  # made by the phase, as the gateway's database holds them
    completed: int
    answered_201: int  # 201 answers wrk received
    answered_after_wrk: int  # payments whose answer came after wrk had stopped listening
    in_flight_at_stop: int  # requests sent but not answered when wrk stopped
    replayed: int  # 201 answers marked Idempotent-Replayed
    duplicate_ids: int  # payment ids answered more than once
    unknown_ids: int  # answered payment ids the gateway does not hold
    events: int
    stored_answers: int
    debited: str

    @property
    def problems(self) -> list[str]:
        """Where the gateway's books and wrk's answers disagree (empty when they agree)."""
        found = []
        if self.replayed or self.duplicate_ids:
            found.append(
                f"{self.replayed} answers were idempotent replays and {self.duplicate_ids} "
                "payment ids were answered twice"
            )
        if self.unknown_ids:
            found.append(f"{self.unknown_ids} answered payment ids are not in the gateway")
        if self.answered_after_wrk > self.in_flight_at_stop:
            found.append(
                f"the gateway holds {self.payments} payments, wrk received {self.answered_201} "
                f"201s and left only {self.in_flight_at_stop} requests in flight"
            )
        if self.completed != self.payments:
            found.append(f"only {self.completed} of {self.payments} payments are Completed")
        if self.events != self.payments:
            found.append(f"{self.events} payment events for {self.payments} payments")
        if self.stored_answers != self.payments:
            found.append(f"{self.stored_answers} stored answers for {self.payments} payments")
        return found

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "problems": self.problems}


def reconcile(
    before: Ledger, after: Ledger, answered: Sequence[str], replayed: int, in_flight: int
) -> Reconciliation:
    """What the phase added to the gateway's books against the payment ids of the 201
    answers wrk received (`answered`) and the requests it left in flight when it stopped."""
    made = after.payment_ids - before.payment_ids
    seen = set(answered)
    return Reconciliation(
        payments=len(made),
        completed=after.statuses.get("Completed", 0) - before.statuses.get("Completed", 0),
        answered_201=len(answered),
        answered_after_wrk=len(made - seen),
        in_flight_at_stop=in_flight,
        replayed=replayed,
        duplicate_ids=len(answered) - len(seen),
        unknown_ids=len(seen - made),
        events=after.events - before.events,
        stored_answers=after.stored_answers - before.stored_answers,
        debited=f"{Decimal(after.debited_cents - before.debited_cents) / 100:.2f}",
    )


def pay(http: httpx.Client, grant: grants.PaymentGrant) -> httpx.Response:
    """One `POST /v1/payments` with the grant's body and a fresh Idempotency-Key."""
    return http.post(
        "/v1/payments",
        json=grant.body,
        headers={
            "Authorization": f"Bearer {grant.access_token}",
            "Idempotency-Key": uuid.uuid4().hex,
        },
    )
