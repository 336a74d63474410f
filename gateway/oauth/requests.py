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

FORM_TYPE = "application/x-www-form-urlencoded"


class OAuthError(Exception):
    """An OAuth protocol error (RFC 6749 §5.2, RFC 9126 §2.3, RFC 9449 §7)."""

    def __init__(
        self,
        error: str,
        description: str,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.headers = headers or {}


def oauth_error_response(request: Request, error: OAuthError) -> Response:
    body = {
        "error": error.error,
        "error_description": error.description,
        "type": f"/problems/oauth-{error.error.replace('_', '-')}",
        "title": error.error.replace("_", " "),
        "status": error.status,
        "detail": error.description,
        "instance": request.scope["state"]["request_id"],
        "code": "invalid-token" if error.status == 401 else "invalid-request",
    }
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache", **error.headers}
    return Response(orjson.dumps(body), error.status, headers, media_type="application/json")


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
