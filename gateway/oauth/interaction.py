"""The signed `interaction` token that carries the authorize pages from step to step.

It is signed with the gateway secret (HS256), so any replica can serve any step. It never
outlives its pushed request: the first token expires with the request, and each later one
is derived from its predecessor with the same expiry, so a failed attempt or a new step
never extends the session. Failures are counted in the store, not here
(`gateway.oauth.attempts`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from adapters.identity import CodeChallenge
from gateway.oauth.pushed_requests import PushedRequest

AUDIENCE = "obgw-authorize"
MAX_LIFETIME = 600


@dataclass(frozen=True, slots=True)
class Interaction:
    """Where a customer is in the authorize pages, and what earlier steps established."""

    step: str
    request_uri: str
    client_id: str
    partner_id: str
    expires_at: int
    username: str | None = None
    challenge: CodeChallenge | None = None
    terms_digest: str | None = None

    def next(self, step: str, **changes: Any) -> Interaction:
        """The interaction at `step`, with the same expiry."""
        return replace(self, step=step, **changes)


class InteractionError(Exception):
    """The token is not a valid one for this step (`expired` None), or it has expired
    (`expired` is the interaction it carried: its request is known and genuine)."""

    def __init__(self, expired: Interaction | None = None) -> None:
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


class Interactions:
    """Issues and reads interaction tokens."""

    def __init__(self, secret: bytes) -> None:
        self._key = OctKey.import_key(secret)

    def start(self, pushed: PushedRequest, partner_id: str) -> Interaction:
        """The first step of a pushed request: its expiry is the request's."""
        expires_at = min(int(pushed.expires_at.timestamp()), int(time.time()) + MAX_LIFETIME)
        return Interaction("login", pushed.request_uri, pushed.client_id, partner_id, expires_at)

    def issue(self, interaction: Interaction) -> str:
        claims: dict[str, Any] = {
            "aud": AUDIENCE,
            "exp": interaction.expires_at,
            "step": interaction.step,
            "request_uri": interaction.request_uri,
            "client_id": interaction.client_id,
            "partner_id": interaction.partner_id,
        }
        if interaction.username is not None:
            claims["username"] = interaction.username
        if interaction.challenge is not None:
            c = interaction.challenge
            claims["challenge"] = {"id": c.id, "terms": c.terms_digest, "binding": c.binding}
        if interaction.terms_digest is not None:
            claims["terms"] = interaction.terms_digest
        return jwt.encode({"alg": "HS256"}, claims, self._key, algorithms=["HS256"])

    def read(self, token: str, step: str) -> Interaction:
        """The interaction in `token` if it is ours, for `step` and unexpired."""
        try:
            claims = jwt.decode(token, self._key, algorithms=["HS256"]).claims
            if claims.get("aud") != AUDIENCE or claims.get("step") != step:
                raise InteractionError()
            challenge = claims.get("challenge")
            interaction = Interaction(
                step=str(claims["step"]),
                request_uri=str(claims["request_uri"]),
                client_id=str(claims["client_id"]),
                partner_id=str(claims["partner_id"]),
                expires_at=int(claims["exp"]),
                username=claims.get("username"),
                challenge=(
                    CodeChallenge(challenge["id"], challenge["terms"], challenge["binding"])
                    if isinstance(challenge, dict)
                    else None
                ),
                terms_digest=claims.get("terms"),
            )
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise InteractionError() from exc
        if interaction.expires_at <= time.time():
            raise InteractionError(expired=interaction)
        return interaction
