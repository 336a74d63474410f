"""The baselines: bare FastAPI endpoints that return the gateway's balances document.

Same route shape as the gateway's `GET /v1/accounts/{account_id}/balances` (path parameter
with the same pattern, `async def`), but no middleware, no authentication, no pipeline and no
core call. Two serialisers, one app each (one uvicorn process each):

- `default`: a `dict[str, Any]` return annotation, so FastAPI validates the returned dict
  against that response field and serialises it itself (the installed FastAPI takes its fast
  path: pydantic-core's `serialize_json` straight to bytes in a plain `Response`, no
  `jsonable_encoder` + `json.dumps`);
- `orjson`: returns `Response(orjson.dumps(body), media_type="application/json")`, which
  FastAPI passes through untouched (no response-field validation, no encoder).

Both build the same fresh copy of the document per request and answer the same bytes (the
benchmark checks this). The document is the one the gateway returned during set-up, read
from the file named by `BENCH_BARE_BODY` (its `as_of` timestamps are therefore fixed, the
gateway's are "now"; all bodies have the same length).
"""

from __future__ import annotations

import json
import os
from pathlib import Path as FilePath
from typing import Any, Literal

import orjson
from fastapi import FastAPI, Path, Response

AccountId = Path(pattern=r"^acc_[a-z2-7]{1,64}$", description="An account id")
Serialiser = Literal["default", "orjson"]
SERIALISERS: tuple[Serialiser, ...] = ("default", "orjson")


def create_app(document: dict[str, Any], serialiser: Serialiser = "default") -> FastAPI:
    """A FastAPI app with one route answering `document`, serialised as `serialiser` says."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    def document_copy() -> dict[str, Any]:
        return {
            "data": [dict(item) for item in document["data"]],
            "next_cursor": document["next_cursor"],
        }

    if serialiser == "default":

        @app.get("/v1/accounts/{account_id}/balances")
        async def get_balances(account_id: str = AccountId) -> dict[str, Any]:
            return document_copy()

    elif serialiser == "orjson":

        @app.get("/v1/accounts/{account_id}/balances")
        async def get_balances_orjson(account_id: str = AccountId) -> Response:
            return Response(orjson.dumps(document_copy()), media_type="application/json")

    else:
        raise ValueError(f"unknown serialiser {serialiser!r}; expected one of {SERIALISERS}")

    return app


def _document_from_env() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(FilePath(os.environ["BENCH_BARE_BODY"]).read_text())
    return document


def app_from_env() -> FastAPI:
    """The uvicorn factory for FastAPI's default JSON (`--factory bench.bare_app:app_from_env`)."""
    return create_app(_document_from_env(), "default")


def orjson_app_from_env() -> FastAPI:
    """The uvicorn factory for the orjson variant (`bench.bare_app:orjson_app_from_env`)."""
    return create_app(_document_from_env(), "orjson")
