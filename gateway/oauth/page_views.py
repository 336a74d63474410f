"""How the authorize pages look: the steps and the error page, in Chinese and English.

Every page carries `PAGE_HEADERS`: never cached, never framed, a CSP that allows only the
page's own inline style and forms posting back to the gateway. Browsers apply `form-action` to
the redirects that follow a form post too, so the consent step also allows the origin of the
partner's registered redirect URI, where the decision sends the customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import HTMLResponse

from adapters.contract import Account, AccountStatus
from adapters.identity import ConsentTerms
from gateway.errors import PROBLEM_TITLES
from gateway.http.templates import templates
from gateway.oauth.pushed_requests import PushedRequest
from gateway.services import Services
from policies.errors import ProblemError
from policies.masking import mask_account_number
from policies.messages import Text
from policies.vocabulary import ConsentType

CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action {targets}; frame-ancestors 'none'"
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CSP.format(targets="'self'"),
    "Referrer-Policy": "no-referrer",
    "Content-Language": "zh-CN, en",
}
BANK_NAME = Text("City Commercial Bank", "城市商业银行")
PERMISSION_TEXT = {
    "ReadAccountsBasic": Text("See your accounts", "查看账户基本信息"),
    "ReadAccountsDetail": Text("See account details and numbers", "查看账户详细信息（含账号）"),
    "ReadBalances": Text("See balances", "查看账户余额"),
    "ReadTransactions": Text("See transactions", "查看交易明细"),
    "ReadParty": Text("See your family name and risk profile", "查看您的姓氏与风险等级"),
    "ReadPartyDetail": Text("See your name and risk profile", "查看您的姓名与风险等级"),
    "InitiatePayments": Text("Make the one payment below", "发起下列一笔付款"),
    "ReadDeposits": Text("See your term deposits", "查看定期存款"),
    "OpenDeposits": Text("Open term deposits", "开立定期存款"),
    "ReadLoans": Text("See your loans", "查看贷款"),
    "ApplyLoans": Text("Apply for loans", "申请贷款"),
    "ReadWealth": Text("See wealth holdings", "查看理财持仓"),
    "TradeWealth": Text("Buy and sell wealth products", "买卖理财产品"),
}
# What the partner asks for, under the bank's name on every step but the error page.
SUBTITLES = {
    ConsentType.ACCOUNT_ACCESS: Text(
        "{partner} is asking for access to your accounts.", "{partner} 请求访问您的账户信息。"
    ),
    ConsentType.PAYMENT: Text(
        "{partner} is asking you to approve one payment.", "{partner} 请求您批准一笔付款。"
    ),
    ConsentType.DEPOSIT: Text(
        "{partner} is asking for access to your term deposits.",
        "{partner} 请求访问您的定期存款业务。",
    ),
    ConsentType.LOAN: Text(
        "{partner} is asking for access to your loans and loan applications.",
        "{partner} 请求访问您的贷款及贷款申请。",
    ),
    ConsentType.WEALTH: Text(
        "{partner} is asking for access to your wealth investments.",
        "{partner} 请求访问您的理财投资。",
    ),
}
ACCOUNT_NOTES = {
    AccountStatus.FROZEN: Text("frozen", "已冻结"),
    AccountStatus.CLOSED: Text("closed", "已销户"),
}
ASKING = Text("{partner} is asking for your authorisation.", "{partner} 请求您的授权。")


@dataclass(frozen=True, slots=True)
class AccountOption:
    """One of the customer's accounts on the consent step (`id` is partner-facing)."""

    id: str
    label: str
    is_enabled: bool
    note: Text | None = None


def account_option(account_id: str, account: Account) -> AccountOption:
    """An account as the customer sees it: name, masked number, currency, and its status
    when it cannot be used."""
    masked = mask_account_number(account.account_number)
    return AccountOption(
        id=account_id,
        label=f"{account.nickname} {masked} ({account.currency})",
        is_enabled=account.status is AccountStatus.ENABLED,
        note=ACCOUNT_NOTES.get(account.status),
    )


def payment_view(terms: ConsentTerms) -> dict[str, str] | None:
    """A payment's terms as the customer sees them (the creditor's account masked)."""
    if terms.amount is None:
        return None
    return {
        "amount": terms.amount,
        "currency": terms.currency or "",
        "creditor_name": terms.creditor_name or "",
        "creditor_account": mask_account_number(terms.creditor_account or ""),
        "reference": terms.reference or "",
    }


def permissions_view(terms: ConsentTerms) -> list[Text]:
    return [PERMISSION_TEXT.get(p, Text(p, p)) for p in terms.permissions]


async def partner_name(services: Services, pushed: PushedRequest | None) -> str | None:
    """The name of the partner behind a pushed request, if it is known."""
    if pushed is None:
        return None
    client = await services.registry.get_client(pushed.client_id)
    if client is None or client.partner_id is None:
        return None
    partner = await services.registry.get_partner(client.partner_id)
    return partner.name if partner else None


def subtitle(partner: str, consent_type: ConsentType | None) -> Text:
    """What `partner` is asking the customer for, worded by the consent's type."""
    wording = ASKING if consent_type is None else SUBTITLES[consent_type]
    return wording.format(partner=partner)


async def _consent_type(services: Services, pushed: PushedRequest) -> ConsentType | None:
    consent = await services.consents.get(str(pushed.params["consent_id"]))
    return consent.type if consent else None


async def render(
    services: Services,
    pushed: PushedRequest | None,
    step: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """One step of the authorize pages (`login`, `otp`, `consent` or `error`)."""
    partner = await partner_name(services, pushed)
    asking = None
    if partner and pushed is not None and step != "error":
        asking = subtitle(partner, await _consent_type(services, pushed))
    html = templates.get_template("authorize.html").render(
        step=step,
        base=services.settings.issuer,
        bank_name=BANK_NAME,
        partner_name=partner,
        subtitle=asking,
        sandbox=services.settings.is_sandbox,
        **context,
    )
    page_headers = {**(headers or {}), **PAGE_HEADERS}
    if step == "consent" and pushed is not None:
        partner = origin(str(pushed.params["redirect_uri"]))
        page_headers["Content-Security-Policy"] = CSP.format(targets=f"'self' {partner}")
    return HTMLResponse(html, status, headers=page_headers)


def origin(uri: str) -> str:
    """The scheme, host and port of an (already validated) absolute URI, as a CSP source."""
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


async def error_page(
    services: Services,
    error: ProblemError,
    request_id: str,
    *,
    pushed: PushedRequest | None = None,
    back_to: str | None = None,
) -> HTMLResponse:
    """What went wrong, what to do, and a link back to the partner when that is safe."""
    english, chinese = PROBLEM_TITLES.get(error.code, ("Authorization failed", "授权未能完成"))
    title = Text(english, chinese)
    detail = error.detail or title
    return await render(
        services,
        pushed,
        "error",
        error.status,
        error.headers,
        title=Text(english, chinese),
        message=detail,
        back_to=back_to,
        request_id=request_id,
    )
