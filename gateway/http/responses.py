"""JSON responses written by orjson.

Response bodies are typed `TypedDict`s (see `gateway.http.schemas`); a route returns
`JsonResponse(body)` and declares `response_model=` for the API description, so the body is
serialised once, without being validated again on the way out. Timestamps are written in
RFC 3339 UTC with `Z`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

_OPTIONS = orjson.OPT_UTC_Z


class JsonResponse(Response):
    """`body` as `application/json`."""

    media_type = "application/json"

    def __init__(
        self, body: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(orjson.dumps(body, option=_OPTIONS), status_code, headers)
