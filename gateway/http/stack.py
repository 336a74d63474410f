"""The gateway's ASGI stack: the pipeline host in front, then the routes' error handlers.

Starlette wraps user middleware in `ServerErrorMiddleware` (HTML 500 pages) and FastAPI adds
telemetry and body-limit layers; the pipeline host renders every error as a problem, traces
and caps bodies itself, so the stack is just host → exception handlers → exit stack (which
FastAPI's handlers require) → router: three layers fewer on every request.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Receive, Scope, Send


class GatewayApp(FastAPI):
    """FastAPI with the gateway's middleware stack (see the module docstring)."""

    def build_middleware_stack(self) -> ASGIApp:
        handlers = {
            key: handler
            for key, handler in self.exception_handlers.items()
            if key not in (500, Exception)
        }
        app: ASGIApp = AsyncExitStackMiddleware(Dispatch(self.router))
        app = ExceptionMiddleware(app, handlers=handlers, debug=self.debug)
        for middleware in reversed(self.user_middleware):
            app = middleware.cls(app, *middleware.args, **middleware.kwargs)
        return app


ROUTE_KEY = "obgw.route"


class Dispatch:
    """Hands a request to the route the pipeline host already resolved (`scope[ROUTE_KEY]`)
    instead of matching it against every route again; anything else goes to the router."""

    def __init__(self, router: Router) -> None:
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = scope.get(ROUTE_KEY)
        if route is not None:
            match, child = route.matches(scope)
            if match is Match.FULL:
                scope.update(child)
                scope.setdefault("router", self.router)
                await route.handle(scope, receive, send)
                return
        await self.router(scope, receive, send)
