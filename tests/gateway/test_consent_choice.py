"""What the authorize pages ask for, by consent type, and which accounts a consent covers:
any number for reading, exactly one debtor account for a payment, on the pages and at
`/sandbox/authorize` alike.

Every refusal stands beside a positive control built the same way.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import (
    PAYMENT,
    Form,
    Partner,
    approve,
    consent,
    customer_grant,
    log_in,
    login_form,
    partner_token,
    push,
    sandbox_partner,
    submit,
)

PERMISSIONS = {
    "account_access": ["ReadAccountsBasic", "ReadBalances"],
    "payment": ["InitiatePayments"],
    "deposit": ["ReadDeposits", "OpenDeposits"],
    "loan": ["ReadLoans", "ApplyLoans"],
    "wealth": ["ReadWealth", "TradeWealth"],
}
SCOPES = {
    "account_access": "accounts",
    "payment": "payments",
    "deposit": "deposits",
    "loan": "loans",
    "wealth": "wealth",
}
SUBTITLES = {
    "account_access": (
        "Sunshine School is asking for access to your accounts.",
        "Sunshine School 请求访问您的账户信息。",
    ),
    "payment": (
        "Sunshine School is asking you to approve one payment.",
        "Sunshine School 请求您批准一笔付款。",
    ),
    "deposit": (
        "Sunshine School is asking for access to your term deposits.",
        "Sunshine School 请求访问您的定期存款业务。",
    ),
    "loan": (
        "Sunshine School is asking for access to your loans and loan applications.",
        "Sunshine School 请求访问您的贷款及贷款申请。",
    ),
    "wealth": (
        "Sunshine School is asking for access to your wealth investments.",
        "Sunshine School 请求访问您的理财投资。",
    ),
}
ONE_ACCOUNT = "A payment is made from exactly one account"
ONE_ACCOUNT_ZH = "一笔付款只能从一个账户支付：请选择一个付款账户。"


async def pushed_consent(
    client: httpx.AsyncClient, partner: Partner, type_: str = "payment"
) -> tuple[str, str]:
    """A consent of `type_` and its pushed request: (consent id, request_uri)."""
    token = await partner_token(client, partner, "consents")
    extra: dict[str, Any] = {"payment": PAYMENT} if type_ == "payment" else {}
    consent_id = await consent(client, token, PERMISSIONS[type_], type_, **extra)
    par, _ = await push(client, partner, consent_id, scope=SCOPES[type_])
    assert par.status_code == 201, par.text
    return consent_id, str(par.json()["request_uri"])


async def consent_page(
    client: httpx.AsyncClient, partner: Partner, request_uri: str, customer: str = "zhang.wei"
) -> httpx.Response:
    """The consent step, after the password (and the one-time code when funds move)."""
    page = await log_in(client, await login_form(client, partner, request_uri), customer)
    assert page.status_code == 200, page.text
    if Form(page.text).action.endswith("/oauth/authorize/otp"):
        page = await submit(client, Form(page.text), code="123456")
        assert page.status_code == 200, page.text
    assert Form(page.text).action.endswith("/oauth/authorize/decision")
    return page


async def decide(client: httpx.AsyncClient, form: Form, accounts: list[str]) -> httpx.Response:
    return await client.post(
        form.action, data={**form.fields, "decision": "approve", "accounts": accounts}
    )


async def consent_accounts(client: httpx.AsyncClient, partner: Partner, consent_id: str) -> Any:
    """The consent as the partner reads it: its status and the accounts it covers."""
    token = await partner_token(client, partner, "consents")
    response = await client.get(
        f"/v1/consents/{consent_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def account_ids(client: httpx.AsyncClient, partner: Partner, customer: str) -> list[Any]:
    """The customer's accounts as this partner sees them (through an account-access grant)."""
    grant = await customer_grant(client, partner, customer=customer, dpop=False)
    listed = await client.get(
        "/v1/accounts", headers={"Authorization": f"Bearer {grant.access_token}"}
    )
    assert listed.status_code == 200, listed.text
    return list(listed.json()["data"])


class TestSubtitle:
    @pytest.mark.parametrize("type_", list(SUBTITLES))
    async def test_worded_by_consent_type(self, client: httpx.AsyncClient, type_: str) -> None:
        """Login, one-time-code and consent steps say what the partner asks for, in both
        languages, by the consent's type; only an account-access consent asks for access to
        the customer's accounts."""
        partner = await sandbox_partner(client, "Sunshine School")
        _, request_uri = await pushed_consent(client, partner, type_)
        login = await client.get(
            "/oauth/authorize", params={"client_id": partner.client_id, "request_uri": request_uri}
        )
        steps = [login]
        page = await log_in(client, Form(login.text))
        steps.append(page)
        if Form(page.text).action.endswith("/oauth/authorize/otp"):
            steps.append(await submit(client, Form(page.text), code="123456"))
        assert Form(steps[-1].text).action.endswith("/oauth/authorize/decision")
        english, chinese = SUBTITLES[type_]
        for step in steps:
            assert step.status_code == 200, step.text
            assert english in step.text
            assert chinese in step.text
            if type_ != "account_access":
                assert "access to your accounts" not in step.text
                assert "请求访问您的账户信息" not in step.text


class TestPaymentAccountChoice:
    async def test_payment_offers_one_choice_and_reading_several(
        self, client: httpx.AsyncClient
    ) -> None:
        """A payment's consent step offers the accounts as required radio buttons with the
        first enabled one selected; an account-access consent's offers every account ticked."""
        partner = await sandbox_partner(client)
        _, request_uri = await pushed_consent(client, partner, "payment")
        payment = Form((await consent_page(client, partner, request_uri)).text)
        assert payment.checkboxes == []
        assert len(payment.radios) >= 2
        assert [checked for _, _, checked in payment.radios] == [True] + [False] * (
            len(payment.radios) - 1
        )
        page = (await consent_page(client, partner, request_uri)).text
        assert page.count('type="radio" name="accounts"') == len(payment.radios)
        assert page.count(" required") >= len(payment.radios)
        assert "选择付款账户" in page
        assert "Choose the account to pay from" in page

        _, reading_uri = await pushed_consent(client, partner, "account_access")
        reading = Form((await consent_page(client, partner, reading_uri)).text)
        assert reading.radios == []
        assert len(reading.checkboxes) == len(payment.radios)

    async def test_payment_records_the_one_account_chosen(self, client: httpx.AsyncClient) -> None:
        """Choosing the second account authorises the payment consent for that account
        alone; leaving the choice as offered records the pre-selected one."""
        partner = await sandbox_partner(client)
        consent_id, request_uri = await pushed_consent(client, partner, "payment")
        form = Form((await consent_page(client, partner, request_uri)).text)
        second = form.radios[1][1]
        done = await decide(client, form, [second])
        assert done.status_code == 303, done.text
        assert "code" in httpx.URL(done.headers["location"]).params
        stored = await consent_accounts(client, partner, consent_id)
        assert stored["status"] == "Authorised"
        assert stored["account_ids"] == [second]

        consent_id, request_uri = await pushed_consent(client, partner, "payment")
        form = Form((await consent_page(client, partner, request_uri)).text)
        assert (await approve(client, form)).status_code == 303
        preselected = [value for _, value, checked in form.radios if checked]
        assert (await consent_accounts(client, partner, consent_id))["account_ids"] == preselected

    @pytest.mark.parametrize("how_many", [0, 2])
    async def test_none_or_several_refused_on_the_page(
        self, client: httpx.AsyncClient, how_many: int
    ) -> None:
        """Approving a payment with no account or two is answered with the consent step again
        and a message in both languages; the consent stays unauthorised and the customer can
        then choose one."""
        partner = await sandbox_partner(client)
        consent_id, request_uri = await pushed_consent(client, partner, "payment")
        form = Form((await consent_page(client, partner, request_uri)).text)
        chosen = [value for _, value, _ in form.radios][:how_many]
        refused = await decide(client, form, chosen)
        assert refused.status_code == 400, refused.text
        assert refused.headers["content-type"].startswith("text/html")
        assert ONE_ACCOUNT in refused.text
        assert ONE_ACCOUNT_ZH in refused.text
        assert 'role="alert"' in refused.text
        assert (await consent_accounts(client, partner, consent_id))["status"] == (
            "AwaitingAuthorisation"
        )
        again = Form(refused.text)
        assert again.action.endswith("/oauth/authorize/decision")
        accepted = await decide(client, again, [again.radios[0][1]])
        assert accepted.status_code == 303, accepted.text
        assert (await consent_accounts(client, partner, consent_id))["status"] == "Authorised"

    async def test_reading_keeps_several_accounts(self, client: httpx.AsyncClient) -> None:
        """An account-access consent is authorised for every account ticked."""
        partner = await sandbox_partner(client)
        consent_id, request_uri = await pushed_consent(client, partner, "account_access")
        form = Form((await consent_page(client, partner, request_uri)).text)
        ticked = [value for _, value in form.checkboxes]
        assert len(ticked) >= 2
        assert (await decide(client, form, ticked)).status_code == 303
        stored = await consent_accounts(client, partner, consent_id)
        assert stored["account_ids"] == sorted(ticked)


class TestSandboxPaymentAccounts:
    async def test_several_ids_refused_naming_accounts(self, client: httpx.AsyncClient) -> None:
        """`/sandbox/authorize` with two account ids for a payment consent is a 422 naming
        `accounts`, in Chinese when asked; one id is authorised for exactly that account."""
        partner = await sandbox_partner(client)
        ids = [a["account_id"] for a in await account_ids(client, partner, "zhang.wei")]
        assert len(ids) >= 2
        consent_id, request_uri = await pushed_consent(client, partner, "payment")
        body = {"request_uri": request_uri, "customer": "zhang.wei", "accounts": ids[:2]}
        refused = await client.post(
            "/sandbox/authorize",
            json=body,
            auth=partner.basic,
            headers={"Accept-Language": "zh-CN"},
        )
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert problem["code"] == "validation-failed"
        assert [e["path"] for e in problem["errors"]] == ["accounts"]
        assert problem["detail"] == ONE_ACCOUNT_ZH
        assert (await consent_accounts(client, partner, consent_id))["status"] == (
            "AwaitingAuthorisation"
        )
        accepted = await client.post(
            "/sandbox/authorize", json={**body, "accounts": ids[1:2]}, auth=partner.basic
        )
        assert accepted.status_code == 200, accepted.text
        assert (await consent_accounts(client, partner, consent_id))["account_ids"] == ids[1:2]

    async def test_no_ids_refused_naming_accounts(self, client: httpx.AsyncClient) -> None:
        """An empty `accounts` list for a payment consent is a 422 naming `accounts`."""
        partner = await sandbox_partner(client)
        _, request_uri = await pushed_consent(client, partner, "payment")
        refused = await client.post(
            "/sandbox/authorize",
            json={"request_uri": request_uri, "customer": "zhang.wei", "accounts": []},
            auth=partner.basic,
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["path"] == "accounts"
        assert ONE_ACCOUNT in refused.json()["detail"]

    async def test_all_means_the_first_enabled_account(self, client: httpx.AsyncClient) -> None:
        """For a payment consent `all` is the customer's first enabled account (their first
        account when none is enabled); for an account-access consent it is every account."""
        partner = await sandbox_partner(client)
        for customer in ("zhang.wei", "wang.fang"):
            accounts = await account_ids(client, partner, customer)
            enabled = [a["account_id"] for a in accounts if a["status"] == "Enabled"]
            expected = (enabled or [accounts[0]["account_id"]])[:1]
            consent_id, request_uri = await pushed_consent(client, partner, "payment")
            done = await client.post(
                "/sandbox/authorize",
                json={"request_uri": request_uri, "customer": customer},
                auth=partner.basic,
            )
            assert done.status_code == 200, done.text
            stored = await consent_accounts(client, partner, consent_id)
            assert stored["account_ids"] == expected, customer
        consent_id, request_uri = await pushed_consent(client, partner, "account_access")
        done = await client.post(
            "/sandbox/authorize",
            json={"request_uri": request_uri, "customer": "zhang.wei", "accounts": "all"},
            auth=partner.basic,
        )
        assert done.status_code == 200, done.text
        every = sorted(a["account_id"] for a in await account_ids(client, partner, "zhang.wei"))
        assert (await consent_accounts(client, partner, consent_id))["account_ids"] == every
