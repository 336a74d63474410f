"""Scope: an access token must carry its product's OAuth scope."""

from __future__ import annotations

from policies.challenges import challenge
from policies.errors import InsufficientScopeError
from policies.messages import Text
from policies.pipeline import BaseStage, Exchange, Outcome


class ScopeCheck(BaseStage):
    """Rejects with `403 insufficient-scope` when the product's scope was not granted."""

    name = "scope"

    async def on_request(self, exchange: Exchange) -> Outcome | None:
        required = exchange.product.scope
        grant = exchange.grant
        if required is not None and (grant is None or required not in grant.scopes):
            scheme = "DPoP" if grant is not None and grant.jkt else "Bearer"
            raise InsufficientScopeError(
                NEEDS_SCOPE.format(scope=required),
                headers={
                    "WWW-Authenticate": challenge(
                        scheme, error="insufficient_scope", scope=required
                    )
                },
            )
        return None


NEEDS_SCOPE = Text(
    "This operation needs the '{scope}' scope: ask for it when you get the token (a "
    "customer scope through the customer's consent).",
    "此操作需要“{scope}”授权范围：请在获取令牌时申请（客户授权范围须经客户授权）。",
)
