"""A client's public keys (`private_key_jwt`): the same rule as DPoP proof keys, at registration.

Keys are P-256, or RSA of 2048 to 4096 bits with the exponent 65537; a JWKS holds at most
`MAX_CLIENT_KEYS` of them and no private member. A weak key would make its client easy to
impersonate; an unusual one (a huge RSA exponent or modulus) would make every assertion
costly to verify.
"""

from __future__ import annotations

from typing import Any

from gateway.partners.models import MAX_CLIENT_KEYS, RegistryError
from policies.compact_jws import JWSError, check_verification_key
from policies.messages import Text

_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

NOT_A_JWKS = Text(
    "The client JWKS must be a JSON object with a 'keys' list of 1 to {most} public keys.",
    "客户端 JWKS 必须是 JSON 对象，其“keys”列表包含 1 至 {most} 个公钥。",
)
PRIVATE_MATERIAL = Text(
    "The client JWKS holds private key material (key {index}): register public keys only "
    "and keep the private key with the client.",
    "客户端 JWKS 中含有私钥成分（第 {index} 个密钥）：只能登记公钥，私钥应由客户端自行保管。",
)
UNACCEPTED_KEY = Text(
    "Key {index} of the client JWKS is not accepted: use an EC P-256 key (ES256) or an RSA "
    "key of 2048 to 4096 bits with exponent 65537 (PS256), with use 'sig' if given.",
    "客户端 JWKS 中的第 {index} 个密钥不被接受：请使用 EC P-256 密钥（ES256），或 2048 至 4096 "
    "位、指数为 65537 的 RSA 密钥（PS256）；如声明 use，须为“sig”。",
)
DUPLICATE_KID = Text(
    "Two keys of the client JWKS share the kid '{kid}': give every key its own kid.",
    "客户端 JWKS 中有多个密钥使用同一 kid“{kid}”：请为每个密钥设置不同的 kid。",
)


def validate_jwks(jwks: Any) -> dict[str, Any]:
    """The client's public JWKS if every key is accepted; else `RegistryError` saying why."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not 1 <= len(keys) <= MAX_CLIENT_KEYS:
        raise RegistryError(NOT_A_JWKS.format(most=MAX_CLIENT_KEYS))
    kids: set[str] = set()
    for index, key in enumerate(keys, start=1):
        if not isinstance(key, dict):
            raise RegistryError(UNACCEPTED_KEY.format(index=index))
        if not _PRIVATE_MEMBERS.isdisjoint(key):
            raise RegistryError(PRIVATE_MATERIAL.format(index=index))
        try:
            check_verification_key(key)
        except JWSError:
            raise RegistryError(UNACCEPTED_KEY.format(index=index)) from None
        kid = key.get("kid")
        if isinstance(kid, str):
            if kid in kids:
                raise RegistryError(DUPLICATE_KID.format(kid=kid[:64]))
            kids.add(kid)
    return {"keys": keys}
