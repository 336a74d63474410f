"""Rejections raised by pipeline stages.

Every rejection is a `ProblemError`: it carries its HTTP status and the stable problem
`code` that `gateway.errors` renders as RFC 9457 problem+json. The full tree, including
the gateway's own errors, is drawn in `gateway/errors.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from policies.challenges import challenges
from policies.messages import Text

UNEXPECTED = Text(
    "An unexpected error occurred; quote the request id (`instance`) when you contact the bank.",
    "发生意外错误；联系银行时请提供请求编号（instance）。",
)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid input field: a dotted `path` and a human `message`."""

    path: str
    message: Text


class ProblemError(Exception):
    """Base of every error the gateway turns into a problem+json response."""

    status: int = 500
    code: str = "internal-error"

    def __init__(
        self,
        detail: Text | None = None,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(str(detail) if detail is not None else self.code)
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}


class InternalError(ProblemError):
    """500: something failed that the client cannot fix; the request id finds it in the logs."""

    def __init__(self, detail: Text = UNEXPECTED) -> None:
        super().__init__(detail)


class InvalidRequestError(ProblemError):
    status, code = 400, "invalid-request"


class InvalidTokenError(ProblemError):
    """401: the access token (or its DPoP proof) is missing, malformed, expired or revoked.

    `code` tells the partner what to do: `invalid-token`, `token-expired` and `token-revoked`
    (get a new token), `consent-expired`, `consent-revoked` and `consent-consumed` (ask the
    customer for a new consent). `error` is the RFC 6750 code of the challenge (None when the
    request carried no credentials, §3.1); `schemes` are the challenges to send.
    """

    status, code = 401, "invalid-token"

    def __init__(
        self,
        detail: Text | None = None,
        *,
        code: str | None = None,
        error: str | None = "invalid_token",
        schemes: Sequence[str] = ("Bearer",),
        dpop_nonce: str | None = None,
    ) -> None:
        if code is not None:
            self.code = code
        # RFC 6750 §3: the description is ASCII; the problem body carries the translations.
        description = str(detail) if error else None
        headers = {"WWW-Authenticate": challenges(schemes, error=error, description=description)}
        if dpop_nonce:
            headers["DPoP-Nonce"] = dpop_nonce
        super().__init__(detail, headers=headers)
        self.oauth_error = error
        self.dpop_nonce = dpop_nonce

    def challenging(self, *schemes: str) -> InvalidTokenError:
        """The same refusal, challenging with `schemes` (those the caller may use)."""
        return InvalidTokenError(
            self.detail,
            code=self.code,
            error=self.oauth_error,
            schemes=schemes,
            dpop_nonce=self.dpop_nonce,
        )


class InsufficientScopeError(ProblemError):
    status, code = 403, "insufficient-scope"


class ConsentInsufficientError(ProblemError):
    status, code = 403, "consent-insufficient"


class NotFoundError(ProblemError):
    status, code = 404, "not-found"


class PayloadTooLargeError(ProblemError):
    status, code = 413, "payload-too-large"


class ValidationFailedError(ProblemError):
    status, code = 422, "validation-failed"


class IdempotencyKeyRequiredError(InvalidRequestError):
    code = "idempotency-key-required"


class IdempotencyKeyInFlightError(ProblemError):
    status, code = 409, "idempotency-key-in-flight"


class IdempotencyKeyReusedError(ProblemError):
    status, code = 422, "idempotency-key-reused"


class RiskLimitExceededError(ProblemError):
    status, code = 422, "risk-limit-exceeded"
