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
    """`body` as `application/json`.

    It sets its few headers itself instead of going through `Response.__init__`'s general
    header handling: the pipeline host adds the rest to every response anyway.
    """

    media_type = "application/json"

    def __init__(
        self, body: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        self.status_code = status_code
        self.background = None
        self.body = orjson.dumps(body, option=_OPTIONS)
        self.raw_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(self.body)),
        ]
        if headers:
            self.raw_headers += [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
            ]
