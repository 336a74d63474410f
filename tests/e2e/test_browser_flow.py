"""The customer's side of the journey in a real browser: Debian's Chromium, driven by Playwright.

The partner's side (consent, PAR with PKCE and DPoP, the code exchange, reads) is played by
requests-oauth2client; the customer logs in, enters the one-time code and approves on the
bank's pages in Chromium, which follows the redirect back to the partner.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from requests_oauth2client import ClientSecretBasic, DPoPKey, OAuth2Client

from tests.conftest import LiveServer, free_port, make_settings, service_missing

CALLBACK = "http://127.0.0.1/callback"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium from the system (`apt-get install chromium fonts-noto-cjk`), headless."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        service_missing("Chromium (apt-get install chromium fonts-noto-cjk)", "not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        yield browser
        browser.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    settings = make_settings(tmp_path, issuer=f"http://127.0.0.1:{free_port()}")
    with LiveServer(settings) as live:
        yield live


def _partner(base: str) -> tuple[dict[str, str], OAuth2Client]:
    signup = requests.post(
        f"{base}/sandbox/signup",
        timeout=10,
        json={"partner_name": "阳光小学", "sector": "school", "contact_email": "it@school.example"},
    )
    assert signup.status_code == 201, signup.text
    partner = dict(signup.json())
    oauth = OAuth2Client.from_discovery_document(
        requests.get(f"{base}/.well-known/oauth-authorization-server", timeout=10).json(),
        issuer=base,
        auth=ClientSecretBasic(partner["client_id"], partner["client_secret"]),
        redirect_uri=CALLBACK,
        dpop_bound_access_tokens=True,
        testing=True,  # loopback http issuer
    )
    return partner, oauth


def _consent(base: str, oauth: OAuth2Client, body: dict[str, Any]) -> str:
    token = oauth.client_credentials(scope="consents")
    response = requests.post(f"{base}/v1/consents", auth=token, json=body, timeout=10)
    assert response.status_code == 201, response.text
    return str(response.json()["consent_id"])


def _payment_pages(
    browser: Any, base: str, oauth: OAuth2Client, value: str, reference: str
) -> tuple[Any, Any, str]:
    """A payment consent to 阳光小学 pushed, and a Chinese browser page at its authorize URL
    (the partner's callback answered in the browser): (authorization request, page,
    consent id)."""
    terms = {
        "amount": {"value": value, "currency": "CNY"},
        "creditor": {"account_number": "6217001234567890123", "name": "阳光小学"},
        "reference": reference,
    }
    consent_id = _consent(
        base, oauth, {"type": "payment", "permissions": ["InitiatePayments"], "payment": terms}
    )
    request = oauth.authorization_request(scope="payments", consent_id=consent_id)
    pushed = oauth.pushed_authorization_request(request)
    page = browser.new_page(locale="zh-CN")
    page.route(f"{CALLBACK}**", lambda route: route.fulfill(status=200, body="partner"))
    page.goto(f"{base}/oauth/authorize?client_id={oauth.client_id}&request_uri={pushed}")
    return request, page, consent_id


class TestBrowserJourney:
    def test_customer_logs_in_and_approves_in_the_browser(
        self, browser: Any, server: LiveServer
    ) -> None:
        """Login and consent pages in Chromium lead back to the partner with a usable code."""
        base = server.url
        _, oauth = _partner(base)
        consent_id = _consent(
            base,
            oauth,
            {"type": "account_access", "permissions": ["ReadAccountsBasic", "ReadBalances"]},
        )
        key = DPoPKey.generate(alg="ES256")
        request = oauth.authorization_request(scope="accounts", consent_id=consent_id, dpop_key=key)
        pushed = oauth.pushed_authorization_request(request)

        page = browser.new_page(locale="zh-CN")
        page.route(f"{CALLBACK}**", lambda route: route.fulfill(status=200, body="partner"))
        page.goto(f"{base}/oauth/authorize?client_id={oauth.client_id}&request_uri={pushed}")
        assert "阳光小学" in page.content()
        page.fill("#username", "zhang.wei")
        page.fill("#password", "sandbox")
        page.click("button[type=submit]")
        page.wait_for_selector("button[value=approve]")
        assert "查看账户余额" in page.content()
        page.click("button[value=approve]")
        page.wait_for_url(f"{CALLBACK}**")

        token = oauth.authorization_code(request.validate_callback(page.url))
        accounts = requests.get(f"{base}/v1/accounts", auth=token, timeout=10)
        assert accounts.status_code == 200, accounts.text
        assert accounts.json()["data"]
        page.close()

    def test_wrong_password_is_said_on_the_page(self, browser: Any, server: LiveServer) -> None:
        """A wrong password shows the login page again with a message, not a code."""
        base = server.url
        _, oauth = _partner(base)
        consent_id = _consent(
            base, oauth, {"type": "account_access", "permissions": ["ReadBalances"]}
        )
        request = oauth.authorization_request(scope="accounts", consent_id=consent_id)
        pushed = oauth.pushed_authorization_request(request)
        page = browser.new_page()
        page.goto(f"{base}/oauth/authorize?client_id={oauth.client_id}&request_uri={pushed}")
        page.fill("#username", "zhang.wei")
        page.fill("#password", "not-the-password")
        page.click("button[type=submit]")
        page.wait_for_selector("[role=alert]")
        assert page.is_visible("#password")
        assert "code=" not in page.url
        page.close()

    def test_payment_terms_are_shown_and_confirmed_by_code(
        self, browser: Any, server: LiveServer
    ) -> None:
        """A payment consent shows its amount, creditor and reference before the code and the
        approval, and the approval still reaches the partner."""
        base = server.url
        _, oauth = _partner(base)
        request, page, _ = _payment_pages(browser, base, oauth, "3800.00", "2026 秋季学费 张小明")
        page.fill("#username", "zhang.wei")
        page.fill("#password", "sandbox")
        page.click("button[type=submit]")
        page.wait_for_selector("#code")
        prompt = page.inner_text("main")
        assert "3800.00" in prompt
        assert "2026 秋季学费 张小明" in prompt
        assert "6217001234567890123" not in prompt  # the creditor account is masked
        page.fill("#code", "123456")
        page.click("button[type=submit]")
        page.wait_for_selector("button[value=approve]")
        assert "3800.00" in page.inner_text("main")
        page.click("button[value=approve]")
        page.wait_for_url(f"{CALLBACK}**")
        assert request.validate_callback(page.url)
        page.close()

    def test_payment_is_paid_from_the_one_account_chosen(
        self, browser: Any, server: LiveServer
    ) -> None:
        """A payment's pages say the partner asks for one payment; the consent step offers the
        accounts as a labelled group of radio buttons with the first enabled one selected;
        the account the customer picks is the one the consent records."""
        base = server.url
        _, oauth = _partner(base)
        request, page, consent_id = _payment_pages(browser, base, oauth, "120.00", "校服费")
        assert "阳光小学 请求您批准一笔付款。" in page.inner_text("main")
        assert "访问您的账户信息" not in page.inner_text("main")
        page.fill("#username", "zhang.wei")
        page.fill("#password", "sandbox")
        page.click("button[type=submit]")
        page.fill("#code", "123456")
        page.click("button[type=submit]")
        page.wait_for_selector("button[value=approve]")
        assert "is asking you to approve one payment" in page.inner_text("main")
        group = page.get_by_role("group", name="选择付款账户 Choose the account to pay from")
        radios = group.get_by_role("radio")
        assert radios.count() >= 2
        assert page.get_by_role("checkbox").count() == 0
        assert radios.nth(0).is_checked()
        radios.nth(1).check()
        assert not radios.nth(0).is_checked()
        chosen = radios.nth(1).get_attribute("value")
        page.click("button[value=approve]")
        page.wait_for_url(f"{CALLBACK}**")
        assert request.validate_callback(page.url)
        page.close()

        token = oauth.client_credentials(scope="consents")
        stored = requests.get(f"{base}/v1/consents/{consent_id}", auth=token, timeout=10)
        assert stored.status_code == 200, stored.text
        assert stored.json()["account_ids"] == [chosen]
