"""Idempotency keys in the shared database (`policies.idempotency.IdempotencyStore`), and the
one way routes answer so that their answer is stored with their effect.

A route that takes a key writes its effect in a unit of work and, in that same unit of work,
calls `answer(uow, call, status, document)` (or `answer_problem` for a refusal it recorded):
the answer is stored if and only if the effect commits, and a retry replays it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError
from starlette.responses import Response

from gateway.clock import utcnow
from gateway.errors import (
    IdempotencyKeyInFlightError,
    IdempotencyKeyReusedError,
    ProblemError,
    problem_body,
    problem_headers,
)
from gateway.storage.database import Database, UnitOfWork
from gateway.storage.tables import idempotency_keys
from policies.idempotency import RETENTION_SECONDS, IdempotencyClaim, StoredResponse
from policies.messages import Text, negotiate
from policies.pipeline import Exchange

LOCK = timedelta(seconds=60)  # a claim whose holder died is taken over after this
RETENTION = timedelta(seconds=RETENTION_SECONDS)
_JSON_OPTIONS = orjson.OPT_UTC_Z
_KEPT_HEADERS = ("content-type", "location", "cache-control", "content-language")

IN_FLIGHT = Text(
    "A request with this Idempotency-Key is still being processed: wait for its answer, "
    "then retry with the same key to receive it.",
    "使用该 Idempotency-Key 的请求仍在处理中：请等待其结果，之后用同一幂等键重试即可获得结果。",
)
REUSED = Text(
    "This Idempotency-Key was already used for a different request (method, URL or body): "
    "use a new key for a new operation.",
    "该 Idempotency-Key 已用于另一个请求（方法、地址或请求体不同）：新的操作请使用新的幂等键。",
)


class DatabaseIdempotencyStore:
    """Claims and answers in the `idempotency_keys` table, kept for 24 hours."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(self, claim: IdempotencyClaim) -> StoredResponse | None:
        try:
            return await self._claim(claim)
        except IntegrityError:
            # Another request inserted the key between our read and our insert (PostgreSQL;
            # SQLite writers queue instead): read again, and see what it holds.
            return await self._claim(claim)

    async def _claim(self, claim: IdempotencyClaim) -> StoredResponse | None:
        now = utcnow()
        table = idempotency_keys
        where = (table.c.client_id == claim.client_id, table.c.key == claim.key)
        async with self.db.transaction() as uow:
            row = (await uow.conn.execute(table.select().where(*where).with_for_update())).first()
            if row is not None and row.expires_at <= now:
                await uow.conn.execute(table.delete().where(*where))
                row = None
            if row is None:
                await uow.conn.execute(
                    table.insert().values(
                        client_id=claim.client_id,
                        key=claim.key,
                        product=claim.product,
                        fingerprint=claim.fingerprint,
                        state="in_flight",
                        locked_until=now + LOCK,
                        created_at=now,
                        expires_at=now + RETENTION,
                    )
                )
                return None
            if row.fingerprint != claim.fingerprint:
                raise IdempotencyKeyReusedError(REUSED)
            if row.state == "completed":
                return StoredResponse(
                    row.status_code,
                    [(k, v) for k, v in row.response_headers],
                    bytes(row.response_body),
                )
            if row.locked_until is not None and row.locked_until > now:
                raise IdempotencyKeyInFlightError(IN_FLIGHT, headers={"Retry-After": "1"})
            await uow.conn.execute(table.update().where(*where).values(locked_until=now + LOCK))
            return None

    async def release(self, claim: IdempotencyClaim) -> None:
        table = idempotency_keys
        async with self.db.transaction() as uow:
            await uow.conn.execute(
                table.delete().where(
                    table.c.client_id == claim.client_id,
                    table.c.key == claim.key,
                    table.c.fingerprint == claim.fingerprint,
                    table.c.state == "in_flight",
                )
            )

    async def complete(
        self, uow: UnitOfWork, claim: IdempotencyClaim, status: int, response: Response
    ) -> None:
        """Store `response` as the answer to `claim`, in the unit of work of its effect."""
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in response.raw_headers
            if k.decode("latin-1") in _KEPT_HEADERS
        ]
        table = idempotency_keys
        await uow.conn.execute(
            table.update()
            .where(
                table.c.client_id == claim.client_id,
                table.c.key == claim.key,
                table.c.fingerprint == claim.fingerprint,
            )
            .values(
                state="completed",
                locked_until=None,
                status_code=status,
                response_headers=headers,
                response_body=bytes(response.body),
            )
        )
        uow.after_commit(lambda: setattr(claim, "is_completed", True))

    async def purge_expired(self) -> int:
        """Forget keys older than 24 hours (the housekeeper runs this)."""
        async with self.db.transaction() as uow:
            result = await uow.conn.execute(
                idempotency_keys.delete().where(idempotency_keys.c.expires_at < utcnow())
            )
        return int(result.rowcount or 0)


async def answer(
    store: DatabaseIdempotencyStore,
    uow: UnitOfWork,
    exchange: Exchange,
    status: int,
    document: Any,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The JSON answer to a request, stored with its effect when the request holds a key."""
    body = orjson.dumps(document, option=_JSON_OPTIONS)
    response = Response(body, status, dict(headers or {}), media_type="application/json")
    if exchange.idempotency is not None:
        await store.complete(uow, exchange.idempotency, status, response)
    return response


async def answer_problem(
    store: DatabaseIdempotencyStore,
    uow: UnitOfWork,
    exchange: Exchange,
    error: ProblemError,
    extensions: Mapping[str, Any] | None = None,
) -> Response:
    """A refusal the request recorded (a rejected payment), stored like any other answer,
    with RFC 9457 extension members; the request log names it as the request's problem."""
    language = negotiate(exchange.headers.get("accept-language"))
    document = {**problem_body(error, exchange.request_id, language), **(extensions or {})}
    body = orjson.dumps(document, option=_JSON_OPTIONS)
    response = Response(
        body,
        error.status,
        problem_headers(error, language),
        media_type="application/problem+json",
    )
    exchange.error = error
    if exchange.idempotency is not None:
        await store.complete(uow, exchange.idempotency, error.status, response)
    return response
