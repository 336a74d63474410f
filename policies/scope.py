"""Scope: the token must carry the product's OAuth scope."""

from __future__ import annotations

from policies.errors import InsufficientScopeError
from policies.pipeline import BasePolicy, RequestContext


class ScopePolicy(BasePolicy):
    """Rejects with `403 insufficient-scope` when the product's scope was not granted."""

    name = "scope"

    async def on_request(self, ctx: RequestContext) -> None:
        required = ctx.product.scope
        assert ctx.grant is not None, "authentication runs before scope"
        if required is not None and required not in ctx.grant.scopes:
            raise InsufficientScopeError(
                f"this operation needs the '{required}' scope",
                headers={
                    "WWW-Authenticate": (f'Bearer error="insufficient_scope", scope="{required}"')
                },
            )
