"""Idempotency keys (DESIGN §4): a retried request gets the first one's answer, never a
second effect.

For a product that takes a key, this stage claims `(client, key)` before the route runs: a
claim is a row the store writes in a transaction of its own, so among concurrent requests
with one key exactly one proceeds. The others learn what the store knows:

- the first request completed: its status, headers and body again (`Idempotent-Replayed`);
- it is still in flight: `409 idempotency-key-in-flight`;
- the key was used for another request (method, URL or body): `422 idempotency-key-reused`.

The route completes the claim *in the unit of work of its effect* (the store's `complete`),
so the stored answer exists if and only if the effect was committed. A claim the route did
not complete (a refusal before any effect, a core that did not answer) is released when the
response leaves, and the key may be used again.

The stage runs after authentication and scope (a key belongs to a client) and before the
consent check: a replay must answer as the first request did even though that request used
its consent up.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Protocol

import orjson

from policies.catalog import Idempotency
from policies.errors import FieldError, IdempotencyKeyRequiredError, InvalidRequestError
from policies.messages import Text
from policies.pipeline import BaseStage, Exchange, Outcome

KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
REPLAYED = (b"idempotent-replayed", b"true")
RETENTION_SECONDS = 24 * 3600


@dataclass(slots=True)
class IdempotencyClaim:
    """A key this request holds; `is_completed` once its answer is stored with its effect."""

    client_id: str
    key: str
    product: str
    fingerprint: str
    is_completed: bool = False


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The answer a completed request gave, to be given again."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class IdempotencyStore(Protocol):
    """Where claims and answers live (shared by every replica)."""

    async def claim(self, claim: IdempotencyClaim) -> StoredResponse | None:
        """Take the key for this request (None), or return the completed request's answer.

        Raises `IdempotencyKeyInFlightError` while another request holds the key and
        `IdempotencyKeyReusedError` if the key was used for a different request.
        """
        ...

    async def release(self, claim: IdempotencyClaim) -> None:
        """Give up a claim that was not completed, so that the key may be used again."""
        ...


def fingerprint(method: str, url: str, body: bytes) -> str:
    """What makes two requests "the same": method, URL and body (JSON compared by content,
    not by key order or spacing)."""
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        canonical = body
    digest = hashlib.sha256()
    for part in (method.encode(), url.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class IdempotencyKeys(BaseStage):
    """Claims, replays and releases idempotency keys for the products that take one."""

    name = "idempotency"

    def __init__(self, store: IdempotencyStore) -> None:
        self.store = store

    async def on_request(self, exchange: Exchange) -> Outcome | None:
        product = exchange.product
        if product.idempotency is Idempotency.NONE:
            return None
        key = exchange.headers.get("idempotency-key")
        if key is None:
            if product.requires_idempotency_key:
                raise IdempotencyKeyRequiredError(KEY_REQUIRED)
            return None
        if not KEY.match(key):
            raise InvalidRequestError(
                BAD_KEY, errors=[FieldError("headers.Idempotency-Key", KEY_FORMAT)]
            )
        caller = exchange.caller
        assert caller is not None, "authentication runs before idempotency"
        claim = IdempotencyClaim(
            caller.client_id,
            key,
            product.name,
            fingerprint(exchange.method, exchange.url, await exchange.body()),
        )
        stored = await self.store.claim(claim)
        if stored is not None:
            headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in stored.headers]
            length = (b"content-length", b"%d" % len(stored.body))
            return Outcome(stored.status, [*headers, length, REPLAYED], stored.body)
        exchange.idempotency = claim
        return None

    async def on_response(self, exchange: Exchange) -> None:
        claim = exchange.idempotency
        if claim is not None and not claim.is_completed:
            await self.store.release(claim)


KEY_REQUIRED = Text(
    "This request moves money or creates a financial resource: send an Idempotency-Key "
    "header (1-64 characters of A-Z, a-z, 0-9, '_' and '-'), unique per operation, and "
    "reuse it when you retry.",
    "此请求涉及资金变动或创建金融资源：请发送 Idempotency-Key 请求头（1-64 个字符，"
    "可用 A-Z、a-z、0-9、“_”和“-”），每笔操作唯一，重试时沿用同一个值。",
)
BAD_KEY = Text(
    "The Idempotency-Key header is malformed: see `errors`.",
    "Idempotency-Key 请求头格式不正确：详见 errors。",
)
KEY_FORMAT = Text(
    "Use 1-64 characters of A-Z, a-z, 0-9, '_' and '-', such as a UUID.",
    "请使用 1-64 个字符（A-Z、a-z、0-9、“_”和“-”），例如 UUID。",
)
