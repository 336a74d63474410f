"""Refusals on the authorize pages: what the customer reads, and whether to lead them back.

A refusal is a `ProblemError` (its code names it in the request log) that the pages render
as HTML in Chinese and English. It links back to the partner (the registered redirect URI
with `error`, `state` and `iss`, RFC 6749 §4.1.2.1 and RFC 9207) only for a genuine request
of an active client. An unknown request or client, a forged session or a suspended partner
gets no link: RFC 6749 §4.1.2.1 forbids redirecting for an invalid client, and the bank
does not send its customers to a partner it has suspended.
"""

from __future__ import annotations

from gateway.oauth.attempts import LockScope
from gateway.oauth.flow import AuthorizationFlow, RequestUnusable, Unusable
from gateway.oauth.pushed_requests import PushedRequest
from policies.errors import ProblemError
from policies.messages import Text

START_AGAIN = Text(
    "Return to the partner's app or website and start again.",
    "请返回合作方的应用或网站重新发起授权。",
)


class PageError(ProblemError):
    """A refusal shown to the customer as a page; `back_to` is the link to the partner."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: Text,
        *,
        pushed: PushedRequest | None = None,
        back_to: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail, headers=headers)
        self.status = status
        self.code = code
        self.pushed = pushed
        self.back_to = back_to


def _back(flow: AuthorizationFlow, pushed: PushedRequest, error: str, description: str) -> str:
    return flow.redirect(pushed, error=error, error_description=description)


def missing_parameters() -> PageError:
    return PageError(
        400,
        "authorization-request-invalid",
        Text(
            "This authorization link is incomplete. " + START_AGAIN.en,
            "该授权链接不完整。" + START_AGAIN.zh,
        ),
    )


def session_invalid() -> PageError:
    return PageError(
        400,
        "authorization-session-invalid",
        Text(
            "This page is not valid any more, or was not issued by the bank. " + START_AGAIN.en,
            "此页面已失效，或并非由本行签发。" + START_AGAIN.zh,
        ),
    )


def unusable(flow: AuthorizationFlow, error: RequestUnusable) -> PageError:
    """The page for a pushed request that cannot be used."""
    pushed = error.pushed
    if error.reason is Unusable.UNKNOWN or pushed is None:
        return PageError(
            400,
            "authorization-request-invalid",
            Text(
                "This authorization link is not valid. " + START_AGAIN.en,
                "该授权链接无效。" + START_AGAIN.zh,
            ),
        )
    if error.reason is Unusable.CLIENT_INACTIVE:
        return PageError(
            403,
            "client-inactive",
            Text(
                "This partner's access to the bank is suspended, so it cannot ask for your "
                "consent. Nothing has been shared with it.",
                "该合作方在本行的接入已被暂停，无法请求您的授权。您的信息未被共享。",
            ),
            pushed=pushed,
        )
    if error.reason is Unusable.LOCKED:
        return locked(flow, pushed, LockScope.REQUEST)
    if error.reason is Unusable.USED:
        return PageError(
            410,
            "authorization-request-used",
            Text(
                "This authorization has already been completed or declined. " + START_AGAIN.en,
                "该授权已完成或已被拒绝。" + START_AGAIN.zh,
            ),
            pushed=pushed,
            back_to=_back(flow, pushed, "invalid_request_uri", "the request_uri was used"),
        )
    return expired(flow, pushed)


def expired(flow: AuthorizationFlow, pushed: PushedRequest) -> PageError:
    return PageError(
        410,
        "authorization-request-expired",
        Text(
            "This authorization has expired: it must be completed within {seconds} seconds. "
            + START_AGAIN.en,
            "该授权已过期：授权须在 {seconds} 秒内完成。" + START_AGAIN.zh,
        ).format(seconds=flow.par_ttl),
        pushed=pushed,
        back_to=_back(flow, pushed, "invalid_request_uri", "the request_uri has expired"),
    )


def locked(
    flow: AuthorizationFlow, pushed: PushedRequest, scope: LockScope, lockout: float = 0
) -> PageError:
    """Too many failed attempts: the request, or the customer for `lockout` seconds."""
    back_to = _back(flow, pushed, "access_denied", "too many failed authentication attempts")
    if scope is LockScope.REQUEST:
        return PageError(
            429,
            "authorization-locked",
            Text(
                "Too many wrong passwords or codes: this authorization is locked to protect "
                "your accounts. "
                + START_AGAIN.en
                + " If you did not make these attempts, contact the bank.",
                "密码或验证码错误次数过多，为保护您的账户，该授权已被锁定。"
                + START_AGAIN.zh
                + "如非本人操作，请联系本行。",
            ),
            pushed=pushed,
            back_to=back_to,
        )
    minutes = max(round(lockout / 60), 1)
    return PageError(
        429,
        "customer-locked",
        Text(
            "Too many wrong passwords or codes for this customer: login is locked for "
            "{minutes} minutes. Try again later; if you did not make these attempts, contact "
            "the bank.",
            "该客户的密码或验证码错误次数过多，登录已锁定 {minutes} 分钟。请稍后再试；"
            "如非本人操作，请联系本行。",
        ).format(minutes=minutes),
        pushed=pushed,
        back_to=back_to,
        headers={"Retry-After": str(int(lockout))},
    )


def login_unavailable(flow: AuthorizationFlow, pushed: PushedRequest | None) -> PageError:
    """No customer-authentication provider is configured (or its store is unreachable)."""
    return PageError(
        503,
        "customer-login-unavailable",
        Text(
            "Customer login is not available at this bank at the moment, so you cannot "
            "authorise this request. Nothing has been shared.",
            "本行目前无法提供客户登录，您暂时不能授权此请求。您的信息未被共享。",
        ),
        pushed=pushed,
        back_to=(
            _back(flow, pushed, "temporarily_unavailable", "customer login is not available")
            if pushed is not None
            else None
        ),
    )


def consent_unavailable(flow: AuthorizationFlow, pushed: PushedRequest) -> PageError:
    return PageError(
        410,
        "consent-unavailable",
        Text(
            "The partner's request can no longer be authorised: it was withdrawn, has "
            "expired or has changed. " + START_AGAIN.en,
            "合作方的请求已无法授权：该请求已被撤回、已过期或已变更。" + START_AGAIN.zh,
        ),
        pushed=pushed,
        back_to=_back(flow, pushed, "invalid_request", "the consent can no longer be authorised"),
    )


def bank_unavailable(problem: ProblemError) -> PageError:
    """The core could not serve a step: the partner-facing problem's status and code, in
    words for the customer."""
    return PageError(
        problem.status,
        problem.code,
        Text(
            "The bank could not complete this step. Try again in a few minutes; if it keeps "
            "failing, contact the bank.",
            "本行暂时无法完成此步骤。请几分钟后重试；如仍失败，请联系本行。",
        ),
        headers=problem.headers,
    )
