"""Consent: customer data only through an authorised, unexpired consent with the permission.

Consents are read through a `ConsentLookup` (the gateway's store) behind a short-TTL
cache, invalidated as soon as a revocation is seen.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from policies.errors import ConsentInsufficientError, InvalidTokenError
from policies.messages import Text
from policies.pipeline import BaseStage, ConsentView, Exchange, Outcome
from policies.revocation import RevocationList
from policies.vocabulary import ConsentStatus


class ConsentLookup(Protocol):
    async def consent_view(self, consent_id: str) -> ConsentView | None: ...


class ConsentCache:
    """Consent views cached for `ttl` seconds; revocations evict immediately.

    Concurrent misses for one consent share a single lookup, so an expiring entry under
    load costs one database read, not one per request in flight.
    """

    def __init__(
        self, lookup: ConsentLookup, revocations: RevocationList, ttl: float = 30.0
    ) -> None:
        self.lookup = lookup
        self.ttl = ttl
        self._entries: dict[str, tuple[float, ConsentView | None]] = {}
        self._inflight: dict[str, asyncio.Future[ConsentView | None]] = {}
        revocations.on_revoke(self._evict)

    def _evict(self, kind: str, value: str) -> None:
        if kind in ("consent", "consent_expired"):
            self.invalidate(value)

    def invalidate(self, consent_id: str) -> None:
        self._entries.pop(consent_id, None)
        self._inflight.pop(consent_id, None)

    async def get(self, consent_id: str) -> ConsentView | None:
        entry = self._entries.get(consent_id)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        pending = self._inflight.get(consent_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[ConsentView | None] = asyncio.get_running_loop().create_future()
        self._inflight[consent_id] = future
        try:
            view = await self.lookup.consent_view(consent_id)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must
            raise
        finally:
            # Invalidated while reading (a revocation): answer, but do not cache.
            is_current = self._inflight.get(consent_id) is future
            if is_current:
                del self._inflight[consent_id]
        future.set_result(view)
        if is_current:
            if len(self._entries) > 50_000:
                self._entries.clear()
            self._entries[consent_id] = (time.monotonic() + self.ttl, view)
        return view


class ConsentCheck(BaseStage):
    """Attaches the consent to the exchange and checks status, expiry and permission."""

    name = "consent"

    def __init__(self, cache: ConsentCache) -> None:
        self.cache = cache

    async def on_request(self, exchange: Exchange) -> Outcome | None:
        if not exchange.product.requires_consent:
            return None
        grant = exchange.grant
        assert grant is not None, "authentication runs before consent"
        if grant.consent_id is None:
            raise ConsentInsufficientError(NO_CONSENT)
        consent = await self.cache.get(grant.consent_id)
        scheme = "DPoP" if grant.jkt else "Bearer"
        if consent is None or consent.client_id != grant.client_id:
            raise InvalidTokenError(REVOKED, code="consent-revoked", schemes=(scheme,))
        expired = consent.expires_at is not None and consent.expires_at <= time.time()
        if consent.status == ConsentStatus.EXPIRED or (
            expired and consent.status == ConsentStatus.AUTHORISED
        ):
            raise InvalidTokenError(EXPIRED, code="consent-expired", schemes=(scheme,))
        is_consumed = consent.status == ConsentStatus.CONSUMED
        if is_consumed and not exchange.product.serves_consumed_consent:
            raise InvalidTokenError(CONSUMED, code="consent-consumed", schemes=(scheme,))
        if consent.status != ConsentStatus.AUTHORISED and not is_consumed:
            raise InvalidTokenError(REVOKED, code="consent-revoked", schemes=(scheme,))
        if not consent.permissions.intersection(exchange.product.permissions):
            wanted = " or ".join(exchange.product.permissions)
            raise ConsentInsufficientError(NOT_GRANTED.format(permissions=wanted))
        exchange.consent = consent
        return None


NO_CONSENT = Text(
    "Customer data needs a token issued for a consent: get one through the authorization "
    "code flow with the customer's consent.",
    "客户数据需要基于客户授权签发的令牌：请通过客户授权的授权码流程获取。",
)
REVOKED = Text(
    "The customer's consent behind this token was revoked or no longer exists: ask the "
    "customer for a new consent (POST /v1/consents, then authorisation).",
    "此令牌所依据的客户授权已被撤销或不存在：请重新请求客户授权"
    "（POST /v1/consents 后由客户确认）。",
)
EXPIRED = Text(
    "The customer's consent behind this token has expired: ask the customer for a new "
    "consent (POST /v1/consents, then authorisation).",
    "此令牌所依据的客户授权已过期：请重新请求客户授权（POST /v1/consents 后由客户确认）。",
)
CONSUMED = Text(
    "The customer's consent behind this token was used up (a payment consent is single "
    "use): ask the customer for a new consent.",
    "此令牌所依据的客户授权已使用完毕（支付授权仅可使用一次）：请重新请求客户授权。",
)
NOT_GRANTED = Text(
    "The customer's consent does not grant {permissions}: ask the customer for a consent "
    "that includes it.",
    "客户授权未包含 {permissions} 权限：请请求客户给予包含该权限的授权。",
)
