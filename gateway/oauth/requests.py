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

from gateway.http.responses import JsonResponse
from policies.errors import Message
from policies.messages import Text, negotiate

FORM_TYPE = "application/x-www-form-urlencoded"


class OAuthError(Exception):
    """An OAuth protocol error (RFC 6749 §5.2, RFC 9126 §2.3, RFC 9449 §7)."""

    def __init__(
        self,
        error: str,
        description: Message,
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
        self.code = code or ("invalid-token" if status == 401 else "invalid-request")


def oauth_error_response(request: Request, error: OAuthError) -> Response:
    """RFC 6749 §5.2 members (`error_description` in English: the RFC allows ASCII only) and
    the RFC 9457 ones, whose `title` and `detail` follow `Accept-Language`."""
    language = negotiate(request.headers.get("accept-language"))
    description = error.description
    english = str(description)
    title = OAUTH_TITLES.get(error.error) or Text(error.error.replace("_", " "), "授权请求被拒绝")
    body = {
        "error": error.error,
        "error_description": english,
        "type": f"/problems/{error.code}",
        "title": title(language),
        "status": error.status,
        "detail": description(language) if isinstance(description, Text) else english,
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


OAUTH_TITLES: dict[str, Text] = {
    "invalid_request": Text("Invalid request", "请求无效"),
    "invalid_client": Text("Client authentication failed", "客户端认证失败"),
    "invalid_grant": Text("Invalid grant", "授权凭据无效"),
    "unauthorized_client": Text("Client not allowed", "客户端无此权限"),
    "unsupported_grant_type": Text("Unsupported grant type", "不支持的授权类型"),
    "unsupported_response_type": Text("Unsupported response type", "不支持的响应类型"),
    "unsupported_token_type": Text("Unsupported token type", "不支持的令牌类型"),
    "invalid_scope": Text("Invalid scope", "授权范围无效"),
    "invalid_request_uri": Text("Invalid request_uri", "request_uri 无效"),
    "invalid_dpop_proof": Text("Invalid DPoP proof", "DPoP 证明无效"),
    "use_dpop_nonce": Text("DPoP nonce required", "需要 DPoP nonce"),
    "access_denied": Text("Access denied", "访问被拒绝"),
    "temporarily_unavailable": Text("Temporarily unavailable", "暂时无法处理"),
    "server_error": Text("Server error", "服务器错误"),
}


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
        raise OAuthError("invalid_request", f"the body must be {FORM_TYPE}")
    raw = await request.body()
    try:
        pairs = parse_qsl(
            raw.decode("utf-8", errors="strict"),
            keep_blank_values=True,
            strict_parsing=bool(raw),
            max_num_fields=100,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise OAuthError("invalid_request", "the form body is not valid") from exc
    form: dict[str, str] = {}
    seen: set[str] = set()
    for key, value in pairs:
        if key in seen:
            raise OAuthError("invalid_request", f"parameter '{key}' is repeated")
        seen.add(key)
        if value:  # RFC 6749 §3.1: a parameter without a value counts as omitted
            form[key] = value
    return form
