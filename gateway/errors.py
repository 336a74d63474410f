"""The gateway's error hierarchy and its RFC 9457 problem+json rendering.

Every error a partner can see is a `ProblemError` with an HTTP status and a stable code;
the code names a page on the portal (`/problems/<code>`)::

    ProblemError
     ├── InternalError                  500 internal-error
     ├── InvalidRequestError            400 invalid-request
     │    └── IdempotencyKeyRequiredError 400 idempotency-key-required
     ├── InvalidTokenError              401 invalid-token (WWW-Authenticate)
     ├── InsufficientScopeError         403 insufficient-scope
     ├── ConsentInsufficientError       403 consent-insufficient
     ├── NotFoundError                  404 not-found
     ├── MethodNotAllowedError          405 method-not-allowed
     ├── NotAcceptableError             406 not-acceptable
     ├── PayloadTooLargeError           413 payload-too-large
     ├── UnsupportedMediaTypeError      415 unsupported-media-type
     ├── ValidationFailedError          422 validation-failed
     ├── CoreRejectedError              422 insufficient-funds | account-frozen | ...
     ├── RateLimitedError               429 rate-limited (Retry-After)
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
from policies.errors import (
    ConsentInsufficientError,
    FieldError,
    InsufficientScopeError,
    InternalError,
    InvalidRequestError,
    InvalidTokenError,
    NotFoundError,
    PayloadTooLargeError,
    ProblemError,
    ValidationFailedError,
)
from policies.pipeline import Outcome

__all__ = [
    "CapabilityNotSupportedError",
    "ConsentInsufficientError",
    "CoreRejectedError",
    "CoreTimeoutError",
    "CoreUnavailableError",
    "FieldError",
    "IdempotencyKeyRequiredError",
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
    "UnsupportedMediaTypeError",
    "ValidationFailedError",
    "from_core_error",
    "problem_outcome",
    "problem_response",
]


class IdempotencyKeyRequiredError(InvalidRequestError):
    code = "idempotency-key-required"


class MethodNotAllowedError(ProblemError):
    status, code = 405, "method-not-allowed"


class NotAcceptableError(ProblemError):
    status, code = 406, "not-acceptable"


class UnsupportedMediaTypeError(ProblemError):
    status, code = 415, "unsupported-media-type"


class CoreRejectedError(ProblemError):
    """422 with the core's business reason as the problem code."""

    status = 422

    def __init__(self, code: str, detail: str = "") -> None:
        self.code = code
        super().__init__(detail)


class RateLimitedError(ProblemError):
    status, code = 429, "rate-limited"


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
    "insufficient-scope": ("Insufficient scope", "授权范围不足"),
    "consent-insufficient": ("Consent does not cover this request", "客户授权不足"),
    "not-found": ("Resource not found", "资源不存在"),
    "method-not-allowed": ("Method not allowed", "不支持的请求方法"),
    "not-acceptable": ("Not acceptable", "无法提供请求的格式"),
    "idempotency-key-in-flight": (
        "A request with this key is in progress",
        "相同幂等键的请求处理中",
    ),
    "payload-too-large": ("Request body too large", "请求体过大"),
    "unsupported-media-type": ("Unsupported media type", "不支持的内容类型"),
    "insufficient-funds": ("Insufficient funds", "余额不足"),
    "account-frozen": ("Account frozen", "账户已冻结"),
    "unsuitable-product": ("Product unsuitable for the customer", "产品与客户风险承受能力不匹配"),
    "risk-limit-exceeded": ("Risk limit exceeded", "超出风险限额"),
    "idempotency-key-reused": ("Idempotency key reused with another body", "幂等键已用于不同请求"),
    "validation-failed": ("Validation failed", "参数校验失败"),
    "rate-limited": ("Too many requests", "请求过于频繁"),
    "capability-not-supported": ("Capability not supported by this bank", "本行暂不支持该能力"),
    "core-unavailable": ("Core banking system unavailable", "核心系统暂不可用"),
    "core-timeout": ("Core banking system timed out", "核心系统响应超时"),
}


def prefers_chinese(accept_language: str | None) -> bool:
    """True when `Accept-Language` ranks a Chinese tag first."""
    if not accept_language:
        return False
    first = accept_language.split(",", 1)[0].strip().lower()
    return first.startswith("zh")


def from_core_error(error: CoreError) -> ProblemError:
    """Translate a canonical adapter error into the problem a partner sees."""
    if isinstance(error, CoreRejected):
        known = error.code in PROBLEM_TITLES
        return CoreRejectedError(error.code if known else "validation-failed", str(error))
    if isinstance(error, InvalidCursor):
        return InvalidRequestError(
            "the cursor is not valid", errors=[FieldError("cursor", "not a cursor we issued")]
        )
    if isinstance(error, CoreNotFound):
        return NotFoundError("The resource does not exist.")
    if isinstance(error, CoreTimeout):
        return CoreTimeoutError("The core banking system did not answer in time.")
    if isinstance(error, CapabilityNotSupported):
        return CapabilityNotSupportedError(
            f"This bank's core does not offer the '{error.capability}' capability."
        )
    retry_after = error.retry_after if isinstance(error, CoreUnavailable) else 5
    return CoreUnavailableError(
        "The core banking system is temporarily unavailable.",
        headers={"Retry-After": str(retry_after)},
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
        location = [str(p) for p in item.get("loc", ()) if p not in ("body",)]
        field_errors.append(FieldError(".".join(location), str(item.get("msg", ""))))
    if malformed:
        return InvalidRequestError(
            "the body must be a JSON object (Content-Type: application/json)",
            errors=field_errors,
        )
    return ValidationFailedError("the request has invalid fields", errors=field_errors)


def problem_body(
    error: ProblemError, request_id: str, accept_language: str | None = None
) -> dict[str, Any]:
    """The RFC 9457 document for `error`."""
    english, chinese = PROBLEM_TITLES.get(
        error.code, (error.code.replace("-", " ").capitalize(), "")
    )
    zh = prefers_chinese(accept_language) and bool(chinese)
    detail = error.detail or english
    if zh:
        detail = f"{chinese}：{error.detail}" if error.detail else chinese
    body: dict[str, Any] = {
        "type": f"/problems/{error.code}",
        "title": chinese if zh else english,
        "status": error.status,
        "detail": detail,
        "instance": request_id,
        "code": error.code,
    }
    if error.errors:
        body["errors"] = [{"path": e.path, "message": e.message} for e in error.errors]
    return body


def problem_response(
    error: ProblemError, request_id: str, accept_language: str | None = None
) -> Response:
    """Render `error` as an `application/problem+json` response."""
    body = orjson.dumps(problem_body(error, request_id, accept_language))
    headers = {"Cache-Control": "no-store", **error.headers}
    return Response(body, error.status, headers=headers, media_type="application/problem+json")


def problem_outcome(
    error: ProblemError, request_id: str, accept_language: str | None = None
) -> Outcome:
    """`error` as the pipeline's `Outcome` (the host renders rejections with this)."""
    return Outcome.json(
        error.status,
        problem_body(error, request_id, accept_language),
        media_type="application/problem+json",
        headers={"Cache-Control": "no-store", **error.headers},
    )
