"""Client authentication at the token, PAR, revocation and introspection endpoints.

One method per request (RFC 6749 §2.3): `client_secret_basic`, `client_secret_post` or
`private_key_jwt` (RFC 7523). Checks run cheapest first — the method and its syntax, the
assertion's size and claims, the client and the method it registered — and only then the
secret or the assertion's signature, so an unauthenticated caller cannot make the gateway
spend on cryptography. Client keys obey the rule DPoP proof keys do (P-256, or RSA of 2048
to 4096 bits with the exponent 65537).
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import unquote

from gateway.oauth import refusals as say
from gateway.oauth.clients import OAuthClient
from gateway.oauth.requests import OAuthError
from gateway.oauth.schemas import ASSERTION_TYPE
from gateway.partners.models import AuthMethod, Client
from gateway.partners.service import Registry
from policies.challenges import challenge
from policies.compact_jws import CompactJWS, JWSError, KeyCache, PublicKey, parse_compact
from policies.messages import Text
from policies.replay import ReplayCache

ASSERTION_ALGS = ("ES256", "PS256")
# An assertion's header names only an algorithm, a key id and a type: keys come from the
# client's registered JWKS, never from the assertion itself.
_HEADER_MEMBERS = frozenset({"alg", "kid", "typ"})
_MAX_HEADER, _MAX_PAYLOAD, _MAX_SIGNATURE = 512, 2048, 512
_MAX_LIFETIME = 3660  # an assertion must expire within an hour (plus a minute of skew)
_LEEWAY = 30
_MAX_CANDIDATE_KEYS = 4


@dataclass(frozen=True, slots=True)
class Presented:
    """What a request presented: the method, the client id, and the secret or assertion."""

    method: AuthMethod
    client_id: str
    secret: str | None = None
    assertion: CompactJWS | None = None
    header: Mapping[str, Any] | None = None
    claims: Mapping[str, Any] | None = None


class ClientAuthenticator:
    """Authenticates the client of an OAuth request, or refuses with `invalid_client`."""

    def __init__(
        self, registry: Registry, replay: ReplayCache, *, issuer: str, strict: bool
    ) -> None:
        self.registry = registry
        self.replay = replay
        self.issuer = issuer
        self.strict = strict
        self.methods = AuthMethod.accepted(strict=strict)
        self._keys = KeyCache(max_entries=10_000)

    async def authenticate(self, form: Mapping[str, str], headers: Mapping[str, str]) -> Client:
        """The active client the request authenticates as."""
        uses_header = "authorization" in headers
        presented = self._presented(form, headers.get("authorization"), uses_header)
        client = await self.registry.active_client(presented.client_id)
        if client is None:
            raise self._refusal(say.UNKNOWN_CLIENT, uses_header)
        self._check_method(client, presented.method, uses_header)
        if presented.method is AuthMethod.PRIVATE_KEY_JWT:
            await self._check_assertion(client, presented)
        elif presented.secret is None or not client.check_secret(presented.secret):
            raise self._refusal(say.WRONG_SECRET, uses_header)
        return client

    def oauth_client(self, client: Client) -> OAuthClient:
        return OAuthClient(client)

    def _refusal(self, description: Text, uses_header: bool) -> OAuthError:
        """`invalid_client`: 401 with a Basic challenge where Basic is the scheme tried or
        accepted (RFC 6749 §5.2), else 400 (no HTTP scheme to offer)."""
        if uses_header or AuthMethod.CLIENT_SECRET_BASIC in self.methods:
            headers = {"WWW-Authenticate": challenge("Basic")}
            return OAuthError("invalid_client", description, 401, headers, code="invalid-client")
        return OAuthError("invalid_client", description, 400, code="invalid-client")

    def _presented(
        self, form: Mapping[str, str], authorization: str | None, uses_header: bool
    ) -> Presented:
        used = [
            uses_header,
            "client_secret" in form,
            "client_assertion" in form or "client_assertion_type" in form,
        ]
        if sum(used) > 1:
            raise OAuthError("invalid_request", say.ONE_METHOD_ONLY)
        if authorization is not None:
            return self._basic(authorization, form)
        if "client_secret" in form:
            client_id = form.get("client_id")
            if not client_id:
                raise self._refusal(say.POST_WITHOUT_ID, False)
            return Presented(AuthMethod.CLIENT_SECRET_POST, client_id, secret=form["client_secret"])
        if used[2]:
            return self._assertion(form)
        raise self._refusal(say.NO_CREDENTIALS if not self.strict else say.NO_ASSERTION, False)

    def _basic(self, authorization: str, form: Mapping[str, str]) -> Presented:
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            raise self._refusal(say.NOT_BASIC, True)
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
            raw_id, colon, raw_secret = decoded.partition(":")
            # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
            client_id = unquote(raw_id, errors="strict")
            secret = unquote(raw_secret, errors="strict")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise self._refusal(say.BAD_BASIC, True) from None
        if not colon or not client_id or not secret:
            raise self._refusal(say.BAD_BASIC, True)
        if form.get("client_id", client_id) != client_id:
            raise OAuthError("invalid_request", say.OTHER_CLIENT_ID)
        return Presented(AuthMethod.CLIENT_SECRET_BASIC, client_id, secret=secret)

    def _assertion(self, form: Mapping[str, str]) -> Presented:
        """A `private_key_jwt` assertion, checked for shape, size and claims (not signature)."""
        assertion = form.get("client_assertion")
        if form.get("client_assertion_type") != ASSERTION_TYPE or not assertion:
            raise self._refusal(say.BAD_ASSERTION_TYPE, False)
        try:
            token = parse_compact(
                assertion,
                max_header=_MAX_HEADER,
                max_payload=_MAX_PAYLOAD,
                max_signature=_MAX_SIGNATURE,
            )
            header, claims = token.header(), token.payload()
        except JWSError:
            raise self._refusal(say.MALFORMED_ASSERTION, False) from None
        if header.get("alg") not in ASSERTION_ALGS or not _HEADER_MEMBERS.issuperset(header):
            raise self._refusal(say.ASSERTION_HEADER, False)
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or claims.get("iss") != sub:
            raise self._refusal(say.ASSERTION_SUBJECT, False)
        if form.get("client_id", sub) != sub:
            raise OAuthError("invalid_request", say.OTHER_CLIENT_ID)
        self._check_claims(claims)
        return Presented(
            AuthMethod.PRIVATE_KEY_JWT, sub, assertion=token, header=header, claims=claims
        )

    def _check_claims(self, claims: Mapping[str, Any]) -> None:
        aud = claims.get("aud")
        if aud != self.issuer and not (isinstance(aud, list) and self.issuer in aud):
            raise self._refusal(say.ASSERTION_AUDIENCE.format(issuer=self.issuer), False)
        now = time.time()
        exp, iat, nbf = claims.get("exp"), claims.get("iat", now), claims.get("nbf", now)
        if not (_is_time(exp) and _is_time(iat) and _is_time(nbf)):
            raise self._refusal(say.ASSERTION_TIMES, False)
        if exp + _LEEWAY < now or iat - _LEEWAY > now or nbf - _LEEWAY > now:
            raise self._refusal(say.ASSERTION_TIMES, False)
        if exp - min(iat, now) > _MAX_LIFETIME:
            raise self._refusal(say.ASSERTION_LIFETIME, False)
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 1 <= len(jti) <= 256:
            raise self._refusal(say.ASSERTION_JTI, False)

    def _check_method(self, client: Client, method: AuthMethod, uses_header: bool) -> None:
        if method.value not in self.methods:
            raise self._refusal(say.STRICT_PROFILE, uses_header)
        key_based = client.auth_method == AuthMethod.PRIVATE_KEY_JWT
        if key_based and method is not AuthMethod.PRIVATE_KEY_JWT:
            raise self._refusal(say.REGISTERED_FOR_KEYS, uses_header)
        if not key_based and method is AuthMethod.PRIVATE_KEY_JWT:
            raise self._refusal(say.REGISTERED_FOR_SECRET, uses_header)

    async def _check_assertion(self, client: Client, presented: Presented) -> None:
        token, header, claims = presented.assertion, presented.header, presented.claims
        assert token is not None
        assert header is not None
        assert claims is not None
        candidates = self._candidate_keys(client, header["alg"], header.get("kid"))
        signature, signing_input = token.signature(), token.signing_input
        for key in candidates:
            try:
                key.verify(signature, signing_input)
            except JWSError:
                continue
            break
        else:
            raise self._refusal(say.ASSERTION_SIGNATURE, False)
        ttl = max(int(claims["exp"] - time.time()), 0) + _LEEWAY + 1
        if not await self.replay.first_use(f"assertion:{client.client_id}:{claims['jti']}", ttl):
            raise self._refusal(say.ASSERTION_REPLAYED, False)

    def _candidate_keys(self, client: Client, alg: str, kid: object) -> list[PublicKey]:
        """The client's registered keys that may have signed with `alg` (and `kid`)."""
        usable: list[PublicKey] = []
        for jwk in (client.jwks or {}).get("keys", [])[:_MAX_CANDIDATE_KEYS]:
            if not isinstance(jwk, dict) or (kid is not None and jwk.get("kid") != kid):
                continue
            try:
                usable.append(self._keys.key_for(jwk, alg))
            except JWSError:
                continue
        if not usable:
            raise self._refusal(say.NO_USABLE_KEY, False)
        return usable


def _is_time(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
