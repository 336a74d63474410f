"""Transactions of a consented account, and what a consent shows of its accounts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx

from tests.factories import (
    CustomerGrant,
    Partner,
    customer_get,
    customer_grant,
    customer_headers,
    sandbox_partner,
)

READ_TRANSACTIONS = ["ReadAccountsBasic", "ReadTransactions"]
CHINA = timezone(timedelta(hours=8))


async def first_account(client: httpx.AsyncClient, grant: CustomerGrant) -> str:
    listed = await customer_get(client, grant, "/v1/accounts")
    assert listed.status_code == 200, listed.text
    return str(listed.json()["data"][0]["account_id"])


async def transactions(
    client: httpx.AsyncClient, grant: CustomerGrant, account_id: str, **params: str | int
) -> httpx.Response:
    return await customer_get(client, grant, f"/v1/accounts/{account_id}/transactions", **params)


async def all_transactions(
    client: httpx.AsyncClient, grant: CustomerGrant, account_id: str
) -> list[dict[str, Any]]:
    response = await transactions(client, grant, account_id, page_size=200)
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    return list(response.json()["data"])


async def reader(
    client: httpx.AsyncClient, partner: Partner | None = None, **kwargs: Any
) -> tuple[Partner, CustomerGrant, str]:
    partner = partner or await sandbox_partner(client)
    grant = await customer_grant(client, partner, permissions=READ_TRANSACTIONS, **kwargs)
    return partner, grant, await first_account(client, grant)


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


class TestTransactions:
    async def test_newest_first_with_money_as_strings(self, client: httpx.AsyncClient) -> None:
        """Transactions come newest first, amounts as two-digit decimal strings, times in UTC,
        and the answer is never stored."""
        _, grant, account_id = await reader(client)
        response = await transactions(client, grant, account_id, page_size=200)
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        items = response.json()["data"]
        assert len(items) > 5
        booked = [instant(t["booked_at"]) for t in items]
        assert booked == sorted(booked, reverse=True)
        for item in items:
            assert set(item) == {
                "transaction_id",
                "account_id",
                "amount",
                "credit_debit",
                "status",
                "booked_at",
                "description",
                "counterparty",
            }
            assert item["transaction_id"].startswith("txn_")
            assert item["account_id"] == account_id
            assert isinstance(item["amount"]["value"], str)
            assert item["amount"]["value"].split(".")[1].isdigit()
            assert len(item["amount"]["value"].split(".")[1]) == 2
            assert item["amount"]["currency"] == "CNY"
            assert item["credit_debit"] in ("Credit", "Debit")
            assert item["status"] in ("Booked", "Pending")
            assert item["booked_at"].endswith("Z")

    async def test_pages_follow_the_cursor(self, client: httpx.AsyncClient) -> None:
        """page_size and next_cursor walk every transaction once, in the same order."""
        _, grant, account_id = await reader(client)
        everything = [
            t["transaction_id"] for t in await all_transactions(client, grant, account_id)
        ]
        seen: list[str] = []
        params: dict[str, str | int] = {"page_size": 7}
        while True:
            page = (await transactions(client, grant, account_id, **params)).json()
            assert len(page["data"]) <= 7
            seen += [t["transaction_id"] for t in page["data"]]
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
        assert seen == everything

    async def test_ids_are_stable_and_pairwise(self, client: httpx.AsyncClient) -> None:
        """A transaction keeps its id across consents of one partner; another partner sees
        other ids for the same customer's transactions."""
        school, grant, account_id = await reader(client)
        again = await customer_grant(client, school, permissions=READ_TRANSACTIONS)
        first = [t["transaction_id"] for t in await all_transactions(client, grant, account_id)]
        second = [t["transaction_id"] for t in await all_transactions(client, again, account_id)]
        assert first == second
        _, theirs, their_account = await reader(client, await sandbox_partner(client, "市医院"))
        other = [t["transaction_id"] for t in await all_transactions(client, theirs, their_account)]
        assert other
        assert not set(other) & set(first)

    async def test_window_of_dates_in_china_time(self, client: httpx.AsyncClient) -> None:
        """Plain dates bound the window at 00:00 China time: `from` included, `to` excluded."""
        _, grant, account_id = await reader(client)
        everything = await all_transactions(client, grant, account_id)
        middle = instant(everything[len(everything) // 2]["booked_at"]).astimezone(CHINA).date()
        start, end = middle - timedelta(days=20), middle
        response = await transactions(
            client, grant, account_id, page_size=200, to=end.isoformat(), **{"from": str(start)}
        )
        assert response.status_code == 200, response.text
        lower = datetime(start.year, start.month, start.day, tzinfo=CHINA)
        upper = datetime(end.year, end.month, end.day, tzinfo=CHINA)
        expected = [t for t in everything if lower <= instant(t["booked_at"]) < upper]
        assert expected
        assert response.json()["data"] == expected

    async def test_window_of_instants_with_offsets(self, client: httpx.AsyncClient) -> None:
        """RFC 3339 date-times with any offset bound the window to the second."""
        _, grant, account_id = await reader(client)
        everything = await all_transactions(client, grant, account_id)
        newest, older = everything[0], everything[3]
        start = instant(older["booked_at"]).astimezone(timezone(timedelta(hours=-5)))
        end = instant(newest["booked_at"]).astimezone(UTC)
        response = await transactions(
            client,
            grant,
            account_id,
            **{"from": start.isoformat(), "to": end.isoformat().replace("+00:00", "Z")},
        )
        assert response.status_code == 200, response.text
        assert [t["transaction_id"] for t in response.json()["data"]] == [
            t["transaction_id"] for t in everything[1:4]
        ]

    async def test_bad_bounds_name_the_parameter(self, client: httpx.AsyncClient) -> None:
        """A value that is neither an RFC 3339 date-time with offset nor a date is a 422
        naming the parameter, in both languages."""
        _, grant, account_id = await reader(client)
        path = f"/v1/accounts/{account_id}/transactions"
        for name, value in [
            ("from", "2026-11-01T00:00:00"),
            ("from", "yesterday"),
            ("to", "2026-02-30"),
            ("to", "2026-11-01 00:00:00 08:00"),
            ("from", "2026-11-01T25:00:00Z"),
        ]:
            response = await transactions(client, grant, account_id, **{name: value})
            assert response.status_code == 422, (name, value, response.text)
            body = response.json()
            assert body["code"] == "validation-failed"
            assert [e["path"] for e in body["errors"]] == [f"query.{name}"], (name, value)
            assert "RFC 3339" in body["errors"][0]["message"]
            chinese = await client.get(
                path,
                params={name: value},
                headers={
                    **customer_headers(client, grant, "GET", path),
                    "Accept-Language": "zh-CN",
                },
            )
            assert "RFC 3339 时间" in chinese.json()["errors"][0]["message"]
        control = await transactions(client, grant, account_id, **{"from": "2026-11-01"})
        assert control.status_code == 200, control.text

    async def test_from_must_be_before_to(self, client: httpx.AsyncClient) -> None:
        """`from` at or after `to` is a 422 naming `from`; the same bounds swapped answer."""
        _, grant, account_id = await reader(client)
        for start, end in [("2026-11-02", "2026-11-01"), ("2026-11-01", "2026-11-01")]:
            refused = await transactions(client, grant, account_id, **{"from": start, "to": end})
            assert refused.status_code == 422, refused.text
            assert [e["path"] for e in refused.json()["errors"]] == ["query.from"]
        control = await transactions(
            client, grant, account_id, **{"from": "2026-11-01", "to": "2026-11-02"}
        )
        assert control.status_code == 200, control.text


class TestTransactionRefusals:
    async def test_consent_without_read_transactions_is_forbidden(
        self, client: httpx.AsyncClient
    ) -> None:
        """A consent without ReadTransactions lists the account but not its transactions."""
        partner = await sandbox_partner(client)
        grant = await customer_grant(
            client, partner, permissions=["ReadAccountsBasic", "ReadBalances"]
        )
        account_id = await first_account(client, grant)
        refused = await transactions(client, grant, account_id)
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "consent-insufficient"
        assert "ReadTransactions" in refused.json()["detail"]
        assert "CNY" not in refused.text
        _, control, control_account = await reader(client, partner)
        assert (await transactions(client, control, control_account)).status_code == 200

    async def test_another_customers_account_is_not_found(self, client: httpx.AsyncClient) -> None:
        """Another customer's account id (same partner) is a 404, never transactions."""
        partner, grant, own = await reader(client)
        _, other, foreign = await reader(client, partner, customer="li.na")
        assert foreign != own
        refused = await transactions(client, grant, foreign)
        assert refused.status_code == 404, refused.text
        assert refused.json()["code"] == "not-found"
        assert "CNY" not in refused.text
        assert (await transactions(client, other, foreign)).status_code == 200

    async def test_another_partners_account_is_not_found(self, client: httpx.AsyncClient) -> None:
        """An account id another partner holds for the same customer is a 404."""
        _, grant, own = await reader(client)
        _, _, theirs = await reader(client, await sandbox_partner(client, "市医院"))
        assert theirs != own
        refused = await transactions(client, grant, theirs)
        assert refused.status_code == 404, refused.text
        assert "CNY" not in refused.text
        assert (await transactions(client, grant, own)).status_code == 200


class TestAccountNumberMasking:
    async def test_masked_without_read_accounts_detail(self, client: httpx.AsyncClient) -> None:
        """Without ReadAccountsDetail the number keeps its first 6 and last 4 digits only;
        with it, the same account shows the whole number."""
        partner = await sandbox_partner(client)
        basic = await customer_grant(client, partner, permissions=["ReadAccountsBasic"])
        detail = await customer_grant(client, partner, permissions=["ReadAccountsDetail"])
        masked = (await customer_get(client, basic, "/v1/accounts")).json()["data"]
        full = (await customer_get(client, detail, "/v1/accounts")).json()["data"]
        assert [a["account_id"] for a in masked] == [a["account_id"] for a in full]
        for shown, whole in zip(masked, full, strict=True):
            number = whole["account_number"]
            assert number.isdigit()
            assert shown["account_number"] == number[:6] + "*" * (len(number) - 10) + number[-4:]
            one = f"/v1/accounts/{whole['account_id']}"
            assert (await customer_get(client, basic, one)).json()["account_number"] == shown[
                "account_number"
            ]
            assert (await customer_get(client, detail, one)).json()["account_number"] == number
