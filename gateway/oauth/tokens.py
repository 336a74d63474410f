"""Minting RFC 9068 JWT access tokens (and refresh tokens for customer grants)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc import jwt

from gateway.clock import utcnow
from gateway.ids import new_id
from gateway.oauth.keys import KeyRing
from gateway.oauth.state import OAuthState


@dataclass(frozen=True, slots=True)
class Subject:
    """Who a token acts for: the client itself, or a customer through a consent."""

    sub: str
    partner_id: str
    grant_id: str | None = None
    consent_id: str | None = None
    customer_ref: str | None = None
    consent_expires_at: datetime | None = None


class TokenIssuer:
    """Signs access tokens with the active key and records them (one unit of work)."""

    def __init__(
        self,
        issuer: str,
        keys: KeyRing,
        state: OAuthState,
        *,
        access_ttl: int,
        refresh_ttl: int,
    ) -> None:
        self.issuer = issuer
        self.keys = keys
        self.state = state
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl

    async def issue(
        self,
        *,
        client_id: str,
        subject: Subject,
        scope: str,
        jkt: str | None,
        include_refresh_token: bool,
    ) -> dict[str, Any]:
        signer = self.keys.signer
        now = int(time.time())
        jti = new_id("at", 16)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.issuer,
            "sub": subject.sub,
            "client_id": client_id,
            "partner_id": subject.partner_id,
            "scope": scope,
            "jti": jti,
            "iat": now,
            "nbf": now,
            "exp": now + self.access_ttl,
        }
        if subject.consent_id:
            claims["consent_id"] = subject.consent_id
        if jkt:
            claims["cnf"] = {"jkt": jkt}
        header = {"alg": signer.alg, "kid": signer.kid, "typ": "at+jwt"}
        access_token = jwt.encode(header, claims, signer.key, algorithms=[signer.alg])
        token: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "DPoP" if jkt else "Bearer",
            "expires_in": self.access_ttl,
            "scope": scope,
        }
        state = self.state
        async with state.db.transaction() as uow:
            await state.access_tokens.insert(
                uow.conn,
                jti=jti,
                client_id=client_id,
                grant_id=subject.grant_id,
                consent_id=subject.consent_id,
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            )
            if include_refresh_token and subject.grant_id:
                refresh_expiry = utcnow() + timedelta(seconds=self.refresh_ttl)
                if subject.consent_expires_at is not None:
                    refresh_expiry = min(refresh_expiry, subject.consent_expires_at)
                token["refresh_token"] = await state.refresh_tokens.create(
                    uow.conn,
                    client_id=client_id,
                    grant_id=subject.grant_id,
                    consent_id=subject.consent_id,
                    customer_ref=subject.customer_ref,
                    scope=scope,
                    dpop_jkt=jkt,
                    expires_at=refresh_expiry,
                )
        return token
