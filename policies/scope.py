"""Scope: an access token must carry its product's OAuth scope."""

from __future__ import annotations

from policies.errors import InsufficientScopeError
from policies.pipeline import BaseStage, Exchange, Outcome


class ScopeCheck(BaseStage):
    """Rejects with `403 insufficient-scope` when the product's scope was not granted."""

    name = "scope"

    async def on_request(self, exchange: Exchange) -> Outcome | None:
        required = exchange.product.scope
        grant = exchange.grant
        if required is not None and (grant is None or required not in grant.scopes):
            raise InsufficientScopeError(
                f"this operation needs the '{required}' scope",
                headers={
                    "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{required}"'
                },
            )
        return None
