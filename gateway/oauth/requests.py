"""Reading OAuth form posts strictly, and answering OAuth errors in one shape.

OAuth endpoints answer errors as RFC 6749 JSON (`error`, `error_description`) that also
carries the RFC 9457 members, so OAuth client libraries and problem-aware clients both
understand them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import PROBLEM_TITLES
from gateway.http.responses import JsonResponse
from policies.errors import ProblemError
from policies.messages import Text, negotiate

FORM_TYPE = "application/x-www-form-urlencoded"
NOT_A_FORM = Text(
    f"The body must be a form: send Content-Type: {FORM_TYPE}.",
    f"请求体必须是表单：请使用 Content-Type: {FORM_TYPE}。",
)
BAD_FORM = Text(
    "The form body is not valid UTF-8 'name=value' pairs joined by '&': encode it as a form.",
    "表单请求体不是以“&”连接的 UTF-8“名称=值”对：请按表单格式编码。",
)
REPEATED = Text(
    "The parameter '{name}' is repeated: send each parameter once (RFC 6749 §3.1).",
    "参数“{name}”重复出现：每个参数只能发送一次（RFC 6749 §3.1）。",
)


class OAuthError(Exception):
    """An OAuth protocol error (RFC 6749 §5.2, RFC 9126 §2.3, RFC 9449 §7)."""

    def __init__(
        self,
        error: str,
        description: Text,
        status: int = 400,
        headers: dict[str, str] | None = None,
        *,
        code: str | None = None,
    ) -> None:
        super().__init__(str(description))
        self.error = error
        self.description = description
        self.status = status
        self.headers = headers or {}
        self.code = code or problem_code(error)

    def as_problem(self) -> ProblemError:
        """The same refusal as a problem, for the request log and the span."""
        problem = ProblemError(self.description, headers=self.headers)
        problem.status, problem.code = self.status, self.code
        return problem


# The RFC 6749 §4.1.2.1/§5.2, RFC 7009, RFC 9126 and RFC 9449 errors the endpoints answer.
OAUTH_ERRORS = (
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "unsupported_response_type",
    "unsupported_token_type",
    "invalid_scope",
    "invalid_request_uri",
    "invalid_dpop_proof",
    "use_dpop_nonce",
    "access_denied",
    "temporarily_unavailable",
    "server_error",
)


def problem_code(error: str) -> str:
    """The problem code of an OAuth error code: `invalid_grant` → `invalid-grant`."""
    return "internal-error" if error == "server_error" else error.replace("_", "-")


def oauth_error_response(request: Request, error: OAuthError) -> Response:
    """RFC 6749 §5.2 members (`error_description` in English: the RFC allows ASCII only) and
    the RFC 9457 ones, whose `title` and `detail` follow `Accept-Language`."""
    exchange = request.scope["state"].get("exchange")
    if exchange is not None:
        exchange.error = error.as_problem()  # the request log and the span name the refusal
    language = negotiate(request.headers.get("accept-language"))
    description = error.description
    english = str(description)
    title = Text(*PROBLEM_TITLES.get(error.code, (error.error.replace("_", " "), "授权请求被拒绝")))
    body = {
        "error": error.error,
        "error_description": ascii_description(english),
        "type": f"/problems/{error.code}",
        "title": title(language),
        "status": error.status,
        "detail": description(language),
        "instance": request.scope["state"]["request_id"],
        "code": error.code,
    }
    headers = {
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "Content-Language": language,
        **error.headers,
    }
    return Response(orjson.dumps(body), error.status, headers, media_type="application/json")


_ASCII_FOR = str.maketrans({"§": "section ", "“": "'", "”": "'", '"': "'", "\\": "/", "—": "-"})


def ascii_description(text: str) -> str:
    """RFC 6749 §5.2: `error_description` is printable ASCII without `"` and `\\`."""
    return "".join(c if " " <= c <= "~" else "?" for c in text.translate(_ASCII_FOR))


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """An OAuth answer: never cached (RFC 6749 §5.1) unless `headers` say otherwise."""
    return JsonResponse(
        body, status, {"Cache-Control": "no-store", "Pragma": "no-cache", **(headers or {})}
    )


async def read_form(request: Request) -> dict[str, str]:
    """The form body as a dict; rejects other media types, bad encoding and repeated keys.

    Parameters sent without a value are left out, as if omitted (RFC 6749 §3.1).
    """
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != FORM_TYPE:
        raise OAuthError("invalid_request", NOT_A_FORM)
    raw = await request.body()
    try:
        pairs = parse_qsl(
            raw.decode("utf-8", errors="strict"),
            keep_blank_values=True,
            strict_parsing=bool(raw),
            max_num_fields=100,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise OAuthError("invalid_request", BAD_FORM) from exc
    form: dict[str, str] = {}
    seen: set[str] = set()
    for key, value in pairs:
        if key in seen:
            raise OAuthError("invalid_request", REPEATED.format(name=key[:64]))
        seen.add(key)
        if value:  # RFC 6749 §3.1: a parameter without a value counts as omitted
            form[key] = value
    return form
