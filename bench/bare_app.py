"""The baseline: a bare FastAPI endpoint that returns the gateway's balances document.

Same route shape as the gateway's `GET /v1/accounts/{account_id}/balances` (path parameter
with the same pattern, `async def`, a `dict[str, Any]` return annotation serialised by
FastAPI), but no middleware, no authentication, no pipeline and no core call. The document
is the one the gateway returned during set-up, read from the file named by
`BENCH_BARE_BODY` (its `as_of` timestamps are therefore fixed, the gateway's are "now"; both
have the same length).
"""

from __future__ import annotations

import json
import os
from pathlib import Path as FilePath
from typing import Any

from fastapi import FastAPI, Path

AccountId = Path(pattern=r"^acc_[a-z2-7]{1,64}$", description="An account id")


def create_app(document: dict[str, Any]) -> FastAPI:
    """A FastAPI app with one route answering `document`."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/v1/accounts/{account_id}/balances")
    async def get_balances(account_id: str = AccountId) -> dict[str, Any]:
        return {
            "data": [dict(item) for item in document["data"]],
            "next_cursor": document["next_cursor"],
        }

    return app


def app_from_env() -> FastAPI:
    """The uvicorn factory (`--factory bench.bare_app:app_from_env`)."""
    return create_app(json.loads(FilePath(os.environ["BENCH_BARE_BODY"]).read_text()))
