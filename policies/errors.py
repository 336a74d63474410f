"""Rejections raised by pipeline stages.

Every rejection is a `ProblemError`: it carries its HTTP status and the stable problem
`code` that `gateway.errors` renders as RFC 9457 problem+json. The full tree, including
the gateway's own errors, is drawn in `gateway/errors.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from policies.messages import Text

Message = Text | str
UNEXPECTED = Text(
    "An unexpected error occurred; quote the request id (`instance`) when you contact the bank.",
    "发生意外错误；联系银行时请提供请求编号（instance）。",
)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid input field: a dotted `path` and a human `message`."""

    path: str
    message: Message


class ProblemError(Exception):
    """Base of every error the gateway turns into a problem+json response."""

    status: int = 500
    code: str = "internal-error"

    def __init__(
        self,
        detail: Message = "",
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(str(detail) or self.code)
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}


class InternalError(ProblemError):
    """500: something failed that the client cannot fix; the request id finds it in the logs."""

    def __init__(self, detail: Message = UNEXPECTED) -> None:
        super().__init__(detail)


class InvalidRequestError(ProblemError):
    status, code = 400, "invalid-request"


class InvalidTokenError(ProblemError):
    """401: the access token (or its DPoP proof) is missing, malformed, expired or revoked."""

    status, code = 401, "invalid-token"

    def __init__(
        self,
        detail: Message = "",
        *,
        scheme: str = "Bearer",
        error: str = "invalid_token",
        dpop_nonce: str | None = None,
        algs: str = "ES256 PS256",
    ) -> None:
        # RFC 6750 §3: the description is ASCII; the problem body carries the translations.
        description = str(detail).replace("\\", "").replace('"', "'")
        challenge = f'{scheme} error="{error}", error_description="{description}"'
        if scheme == "DPoP":
            challenge += f', algs="{algs}"'
        headers = {"WWW-Authenticate": challenge}
        if dpop_nonce:
            headers["DPoP-Nonce"] = dpop_nonce
        super().__init__(detail, headers=headers)
        self.oauth_error = error


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
