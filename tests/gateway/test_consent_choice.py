"""What the authorize pages say the partner asks for, by consent type."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import (
    PAYMENT,
    Form,
    Partner,
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
