"""The baselines: bare FastAPI endpoints that return the gateway's own documents.

Same route shape as the gateway's `GET /v1/accounts/{account_id}/balances` (path parameter
with the same pattern, `async def`), but no middleware, no authentication, no pipeline and no
core call. When given a payment document, the app also has `POST /v1/payments`: it parses the
JSON body into a dict (as FastAPI does for any `Body()` parameter) and answers the gateway's
payment document with `201`, so the payment phase has a baseline of the same request and
response shape. Two serialisers, one app each (one uvicorn process each):

- `default`: a `dict[str, Any]` return annotation, so FastAPI validates the returned dict
  against that response field and serialises it itself (the installed FastAPI takes its fast
  path: pydantic-core's `serialize_json` straight to bytes in a plain `Response`, no
  `jsonable_encoder` + `json.dumps`);
- `orjson`: returns `Response(orjson.dumps(body), media_type="application/json")`, which
  FastAPI passes through untouched (no response-field validation, no encoder).

Both build the same fresh copy of the document per request and answer the same bytes (the
benchmark checks this). The documents are the ones the gateway returned during set-up, read
from the files named by `BENCH_BARE_BODY` and (optionally) `BENCH_BARE_PAYMENT` (their
timestamps are therefore fixed, the gateway's are "now"; the bodies have the same length).
"""

from __future__ import annotations

import json
import os
from pathlib import Path as FilePath
from typing import Any, Literal

import orjson
from fastapi import Body, FastAPI, Path, Response

AccountId = Path(pattern=r"^acc_[a-z2-7]{1,64}$", description="An account id")
Serialiser = Literal["default", "orjson"]
SERIALISERS: tuple[Serialiser, ...] = ("default", "orjson")


def create_app(
    document: dict[str, Any],
    serialiser: Serialiser = "default",
    payment: dict[str, Any] | None = None,
) -> FastAPI:
    """A FastAPI app whose balances route answers `document` (and, with `payment`, whose
    `POST /v1/payments` answers `payment` with 201), serialised as `serialiser` says."""
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

    if payment is not None:
        _add_payment_route(app, payment, serialiser)
    return app


def _add_payment_route(app: FastAPI, payment: dict[str, Any], serialiser: Serialiser) -> None:
    def payment_copy() -> dict[str, Any]:
        return {
            **payment,
            "amount": dict(payment["amount"]),
            "creditor": dict(payment["creditor"]),
        }

    if serialiser == "default":

        @app.post("/v1/payments", status_code=201)
        async def create_payment(body: dict[str, Any] = Body()) -> dict[str, Any]:
            return payment_copy()

    else:

        @app.post("/v1/payments", status_code=201)
        async def create_payment_orjson(body: dict[str, Any] = Body()) -> Response:
            return Response(
                orjson.dumps(payment_copy()), status_code=201, media_type="application/json"
            )


def _document_from_env(name: str) -> Any:
    path = os.environ.get(name)
    return None if not path else json.loads(FilePath(path).read_text())


def app_from_env() -> FastAPI:
    """The uvicorn factory for FastAPI's default JSON (`--factory bench.bare_app:app_from_env`)."""
    return create_app(
        _document_from_env("BENCH_BARE_BODY"), "default", _document_from_env("BENCH_BARE_PAYMENT")
    )


def orjson_app_from_env() -> FastAPI:
    """The uvicorn factory for the orjson variant (`bench.bare_app:orjson_app_from_env`)."""
    return create_app(
        _document_from_env("BENCH_BARE_BODY"), "orjson", _document_from_env("BENCH_BARE_PAYMENT")
    )
