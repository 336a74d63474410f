"""The gateway's error hierarchy and its RFC 9457 problem+json rendering.

Every error a partner can see is a `ProblemError` with an HTTP status and a stable code;
the code names a page on the portal (`/problems/<code>`)::

    ProblemError
     ├── InternalError                  500 internal-error
     ├── InvalidRequestError            400 invalid-request
     │    └── IdempotencyKeyRequiredError 400 idempotency-key-required
     ├── InvalidTokenError              401 invalid-token | token-expired | token-revoked |
     │                                      client-revoked | consent-* (WWW-Authenticate)
     ├── InsufficientScopeError         403 insufficient-scope
     ├── ConsentInsufficientError       403 consent-insufficient
     ├── NotFoundError                  404 not-found
     ├── MethodNotAllowedError          405 method-not-allowed
     ├── NotAcceptableError             406 not-acceptable
     ├── IdempotencyKeyInFlightError    409 idempotency-key-in-flight
     ├── BillNotOpenError               409 bill-not-open
     ├── BillPaymentPendingError        409 bill-payment-pending
     ├── RequestTimeoutError            408 request-timeout
     ├── PayloadTooLargeError           413 payload-too-large
     ├── UnsupportedMediaTypeError      415 unsupported-media-type
     ├── ValidationFailedError          422 validation-failed
     ├── IdempotencyKeyReusedError      422 idempotency-key-reused
     ├── RiskLimitExceededError         422 risk-limit-exceeded
     ├── CoreRejectedError              422 insufficient-funds | account-frozen | ...
     ├── RateLimitedError               429 rate-limited (Retry-After)
     ├── HeaderFieldsTooLargeError      431 header-fields-too-large
     ├── CapabilityNotSupportedError    501 capability-not-supported
     ├── CoreUnavailableError           503 core-unavailable (Retry-After)
     └── CoreTimeoutError               504 core-timeout

Stages in `policies/` raise the subset defined in `policies.errors`; adapters raise the
canonical core errors of `adapters.contract`, which `from_core_error` translates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from starlette.responses import Response

from adapters.contract import (
    CapabilityNotSupported,
    CoreError,
    CoreNotFound,
    CoreRejected,
    CoreTimeout,
    CoreUnavailable,
    InvalidCursor,
)
from gateway.http.validation import field_message
from policies.errors import (
    ConsentInsufficientError,
    FieldError,
    IdempotencyKeyInFlightError,
    IdempotencyKeyRequiredError,
    IdempotencyKeyReusedError,
    InsufficientScopeError,
    InternalError,
    InvalidRequestError,
    InvalidTokenError,
    NotFoundError,
    PayloadTooLargeError,
    ProblemError,
    RiskLimitExceededError,
    ValidationFailedError,
)
from policies.messages import Language, Text, negotiate
from policies.pipeline import Outcome

__all__ = [
    "BillNotOpenError",
    "BillPaymentPendingError",
    "CapabilityNotSupportedError",
    "ConsentInsufficientError",
    "CoreRejectedError",
    "CoreTimeoutError",
    "CoreUnavailableError",
    "FieldError",
    "HeaderFieldsTooLargeError",
    "IdempotencyKeyInFlightError",
    "IdempotencyKeyRequiredError",
    "IdempotencyKeyReusedError",
    "InsufficientScopeError",
    "InternalError",
    "InvalidRequestError",
    "InvalidTokenError",
    "MethodNotAllowedError",
    "NotAcceptableError",
    "NotFoundError",
    "PayloadTooLargeError",
    "ProblemError",
    "RateLimitedError",
    "RequestTimeoutError",
    "RiskLimitExceededError",
    "UnsupportedMediaTypeError",
    "ValidationFailedError",
    "from_core_error",
    "problem_outcome",
    "problem_response",
]


class MethodNotAllowedError(ProblemError):
    status, code = 405, "method-not-allowed"


class NotAcceptableError(ProblemError):
    status, code = 406, "not-acceptable"


class UnsupportedMediaTypeError(ProblemError):
    status, code = 415, "unsupported-media-type"


class BillNotOpenError(ProblemError):
    """The bill is no longer open (paid, cancelled or expired): it cannot be paid or cancelled."""

    status, code = 409, "bill-not-open"


class BillPaymentPendingError(ProblemError):
    """A payment of the bill is pending: nothing else may pay or cancel it until it ends."""

    status, code = 409, "bill-payment-pending"


class CoreRejectedError(ProblemError):
    """422 with the core's business reason as the problem code."""

    status = 422

    def __init__(self, code: str, detail: Text | None = None) -> None:
        self.code = code
        super().__init__(detail)


class RateLimitedError(ProblemError):
    status, code = 429, "rate-limited"


class RequestTimeoutError(ProblemError):
    """The request head did not arrive in time (answered by the server, before any route)."""

    status, code = 408, "request-timeout"


class HeaderFieldsTooLargeError(ProblemError):
    """The request line and header fields are too large or too many (RFC 6585 §5)."""

    status, code = 431, "header-fields-too-large"


class CapabilityNotSupportedError(ProblemError):
    status, code = 501, "capability-not-supported"


class CoreUnavailableError(ProblemError):
    status, code = 503, "core-unavailable"


class CoreTimeoutError(ProblemError):
    status, code = 504, "core-timeout"


# code -> (English title, Chinese title)
PROBLEM_TITLES: dict[str, tuple[str, str]] = {
    "internal-error": ("Internal error", "内部错误"),
    "invalid-request": ("Invalid request", "请求无效"),
    "idempotency-key-required": ("Idempotency-Key header required", "缺少幂等键"),
    "invalid-token": ("Invalid or missing access token", "访问令牌无效或缺失"),
    "token-expired": ("Token expired", "令牌已过期"),
    "token-revoked": ("Token revoked", "令牌已被撤销"),
    "client-revoked": ("Client revoked or suspended", "客户端已被撤销或暂停"),
    "consent-revoked": ("Consent revoked", "客户授权已被撤销"),
    "consent-expired": ("Consent expired", "客户授权已过期"),
    "consent-consumed": ("Consent already used", "客户授权已使用"),
    "invalid-client": ("Client authentication failed", "客户端认证失败"),
    "invalid-grant": ("Invalid, expired or revoked grant", "授权凭据无效、已过期或已撤销"),
    "invalid-scope": ("Scope not allowed", "授权范围不被允许"),
    "unauthorized-client": ("Grant type not allowed for this client", "该客户端无权使用此授权类型"),
    "unsupported-grant-type": ("Unsupported grant type", "不支持的授权类型"),
    "unsupported-response-type": ("Unsupported response type", "不支持的响应类型"),
    "unsupported-token-type": ("Unsupported token type", "不支持的令牌类型"),
    "invalid-request-uri": ("Invalid request_uri", "request_uri 无效"),
    "invalid-dpop-proof": ("Invalid DPoP proof", "DPoP 证明无效"),
    "use-dpop-nonce": ("DPoP nonce required", "需要使用 DPoP 随机数"),
    "access-denied": ("Access denied", "访问被拒绝"),
    "temporarily-unavailable": ("Temporarily unavailable", "暂时无法处理"),
    "insufficient-scope": ("Insufficient scope", "授权范围不足"),
    "consent-insufficient": ("Consent does not cover this request", "客户授权不足"),
    "not-found": ("Resource not found", "资源不存在"),
    "method-not-allowed": ("Method not allowed", "不支持的请求方法"),
    "not-acceptable": ("Not acceptable", "无法提供请求的格式"),
    "idempotency-key-in-flight": (
        "A request with this key is in progress",
        "相同幂等键的请求处理中",
    ),
    "bill-not-open": ("Bill not open", "账单不在待缴状态"),
    "bill-payment-pending": ("A payment of this bill is pending", "该账单有处理中的缴费"),
    "payload-too-large": ("Request body too large", "请求体过大"),
    "unsupported-media-type": ("Unsupported media type", "不支持的内容类型"),
    "insufficient-funds": ("Insufficient funds", "余额不足"),
    "account-frozen": ("Account frozen", "账户已冻结"),
    "unsuitable-product": ("Product unsuitable for the customer", "产品与客户风险承受能力不匹配"),
    "risk-limit-exceeded": ("Risk limit exceeded", "超出风险限额"),
    "payment-rejected": ("Payment rejected by the bank", "付款被银行拒绝"),
    "payment-not-executed": ("Payment not executed", "付款未执行"),
    "debtor-account-not-found": ("Payment account no longer exists", "付款账户已不存在"),
    "idempotency-key-reused": ("Idempotency key reused with another body", "幂等键已用于不同请求"),
    "validation-failed": ("Validation failed", "参数校验失败"),
    "rate-limited": ("Too many requests", "请求过于频繁"),
    "capability-not-supported": ("Capability not supported by this bank", "本行暂不支持该能力"),
    "core-unavailable": ("Core banking system unavailable", "核心系统暂不可用"),
    "core-timeout": ("Core banking system timed out", "核心系统响应超时"),
    # The authorize pages (shown to customers as pages, logged under these codes)
    "authorization-request-invalid": ("Authorization link not valid", "授权链接无效"),
    "authorization-session-invalid": ("Authorization page not valid", "授权页面已失效"),
    "authorization-request-expired": ("Authorization expired", "授权已过期"),
    "authorization-request-used": ("Authorization already completed", "授权已完成"),
    "authorization-locked": ("Authorization locked", "授权已锁定"),
    "customer-locked": ("Customer login locked", "客户登录已锁定"),
    "client-inactive": ("Partner suspended", "合作方已被暂停"),
    "customer-login-unavailable": ("Customer login unavailable", "客户登录暂不可用"),
    "consent-unavailable": ("Consent no longer available", "授权同意已失效"),
    "request-timeout": ("Request not received in time", "未能及时收到完整请求"),
    "header-fields-too-large": ("Request header fields too large", "请求头过大"),
}


# What a partner reads when the core refuses an operation: the core's own words stay in the
# logs (they name core internals and are not translated).
CORE_REJECTIONS: dict[str, Text] = {
    "insufficient-funds": Text(
        "The debtor account's available balance does not cover the amount.",
        "付款账户可用余额不足以支付该金额。",
    ),
    "account-frozen": Text(
        "The account is frozen; the customer must contact the bank.",
        "账户已冻结，请客户联系银行处理。",
    ),
    "unsuitable-product": Text(
        "The product's risk level is above the customer's risk tolerance.",
        "该产品风险等级高于客户的风险承受能力。",
    ),
}
REJECTED = Text("The core banking system refused the operation.", "核心系统拒绝了该操作。")


def from_core_error(error: CoreError) -> ProblemError:
    """Translate a canonical adapter error into the problem a partner sees."""
    if isinstance(error, CoreRejected):
        if error.code in PROBLEM_TITLES:
            return CoreRejectedError(error.code, CORE_REJECTIONS.get(error.code, REJECTED))
        return CoreRejectedError("validation-failed", REJECTED)
    if isinstance(error, InvalidCursor):
        return InvalidRequestError(
            Text(
                "The cursor is not valid: pass the next_cursor of the previous page unchanged.",
                "游标无效：请原样传入上一页返回的 next_cursor。",
            ),
            errors=[FieldError("cursor", Text("not a cursor we issued", "不是本行签发的游标"))],
        )
    if isinstance(error, CoreNotFound):
        return NotFoundError(Text("The resource does not exist.", "资源不存在。"))
    if isinstance(error, CoreTimeout):
        return CoreTimeoutError(
            Text(
                "The core banking system did not answer in time; the operation's outcome is "
                "unknown: retry with the same Idempotency-Key, or read the resource.",
                "核心系统未能及时响应，操作结果未知：请使用相同的幂等键重试，或查询该资源。",
            )
        )
    if isinstance(error, CapabilityNotSupported):
        return CapabilityNotSupportedError(
            Text(
                "This bank's core does not offer the '{capability}' capability "
                "(see GET /v1/capabilities).",
                "本行核心系统不提供“{capability}”能力（见 GET /v1/capabilities）。",
            ).format(capability=error.capability)
        )
    retry_after = error.retry_after if isinstance(error, CoreUnavailable) else 5
    return CoreUnavailableError(
        Text(
            "The core banking system is temporarily unavailable; retry after {seconds} s.",
            "核心系统暂不可用，请 {seconds} 秒后重试。",
        ).format(seconds=retry_after),
        headers={"Retry-After": str(retry_after)},
    )


def _path(location: Sequence[Any]) -> str:
    """The dotted path of a field: names and indices, without the union members pydantic
    tried the value against (`literal['all']`, `list[constrained-str]`), which name types."""
    return ".".join(
        str(p) for p in location if p != "body" and not (isinstance(p, str) and "[" in p)
    )


def from_validation_errors(items: Sequence[Any]) -> ProblemError:
    """FastAPI's request validation errors as one problem naming every bad field.

    A body that is not a JSON object at all is `400 invalid-request`; fields that do not
    validate are `422 validation-failed`.
    """
    field_errors = []
    malformed = False
    for item in items:
        if item.get("type") in ("json_invalid", "model_attributes_type"):
            malformed = True
        field_errors.append(FieldError(_path(item.get("loc", ())), field_message(item)))
    if malformed:
        return InvalidRequestError(
            Text(
                "The body must be a JSON object (Content-Type: application/json).",
                "请求体必须是 JSON 对象（Content-Type: application/json）。",
            ),
            errors=field_errors,
        )
    return ValidationFailedError(
        Text(
            "Some fields are invalid: see `errors` for each field and what it must be.",
            "部分字段无效：各字段的问题及要求见 errors。",
        ),
        errors=field_errors,
    )


def problem_body(error: ProblemError, request_id: str, language: Language) -> dict[str, Any]:
    """The RFC 9457 document for `error`, its title and messages in `language`."""
    english, chinese = PROBLEM_TITLES.get(
        error.code, (error.code.replace("-", " ").capitalize(), "请求未能完成")
    )
    title = Text(english, chinese)
    body: dict[str, Any] = {
        "type": f"/problems/{error.code}",
        "title": title(language),
        "status": error.status,
        "detail": (error.detail or title)(language),
        "instance": request_id,
        "code": error.code,
    }
    if error.errors:
        body["errors"] = [{"path": e.path, "message": e.message(language)} for e in error.errors]
    return body


def problem_headers(error: ProblemError, language: Language) -> dict[str, str]:
    return {"Cache-Control": "no-store", "Content-Language": language, **error.headers}


def problem_response(error: ProblemError, request_id: str, accept_language: str | None) -> Response:
    """Render `error` as an `application/problem+json` response."""
    language = negotiate(accept_language)
    body = orjson.dumps(problem_body(error, request_id, language))
    return Response(
        body,
        error.status,
        headers=problem_headers(error, language),
        media_type="application/problem+json",
    )


def problem_outcome(error: ProblemError, request_id: str, accept_language: str | None) -> Outcome:
    """`error` as the pipeline's `Outcome` (the host renders rejections with this)."""
    language = negotiate(accept_language)
    return Outcome.json(
        error.status,
        problem_body(error, request_id, language),
        media_type="application/problem+json",
        headers=problem_headers(error, language),
    )
