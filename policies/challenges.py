"""`WWW-Authenticate` challenges of the resource routes (RFC 6750 §3, RFC 9449 §7, RFC 7617).

A challenge names the schemes a caller may use: `DPoP` always (with the algorithms it
accepts), `Bearer` only where the profile accepts bearer tokens, `Basic` for sandbox tooling.
A request without credentials gets the bare challenges; a refused credential gets its
scheme's challenge with the error.
"""

from __future__ import annotations

from collections.abc import Sequence

REALM = "obgw"
DPOP_ALGS = "ES256 PS256"


def challenge(
    scheme: str,
    *,
    error: str | None = None,
    description: str | None = None,
    scope: str | None = None,
) -> str:
    """One challenge; the error members only for the token schemes (Basic has none)."""
    params = [f'realm="{REALM}"']
    if scheme != "Basic":
        if error:
            params.append(f'error="{error}"')
        if description:
            params.append(f'error_description="{_quoted(description)}"')
        if scope:
            params.append(f'scope="{_quoted(scope)}"')
        if scheme == "DPoP":
            params.append(f'algs="{DPOP_ALGS}"')
    return f"{scheme} {', '.join(params)}"


def challenges(schemes: Sequence[str], **members: str | None) -> str:
    """Several challenges in one header field (RFC 9110 §11.6.1)."""
    return ", ".join(challenge(scheme, **members) for scheme in schemes)


def token_schemes(*, allow_bearer: bool) -> tuple[str, ...]:
    """The schemes a profile accepts for access tokens: never `Bearer` where it is refused."""
    return ("Bearer", "DPoP") if allow_bearer else ("DPoP",)


def _quoted(text: str) -> str:
    # RFC 6750 §3: printable ASCII without `"` and `\`.
    text = text.replace('"', "'").replace("§", "section ")
    return "".join(c for c in text if " " <= c <= "~" and c != "\\")
