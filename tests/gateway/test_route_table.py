"""The route table picks the route the framework's router would pick, for every route."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from starlette.routing import Match, Route

from gateway.app import create_app
from gateway.http.routing import RouteTable, product
from policies.catalog import CatalogError, load_catalog
from tests.conftest import make_settings


def _example_path(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", template)


def _router_choice(app: FastAPI, method: str, path: str) -> Route | None:
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            assert isinstance(route, Route)
            return route
    return None


def test_every_route_resolves_to_the_route_the_router_matches(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    table = RouteTable(app.routes, load_catalog())
    checked = 0
    for route in app.router.routes:
        if not isinstance(route, Route):
            continue
        for method in route.methods or ():
            path = _example_path(route.path)
            resolved = table.resolve(method, path)
            assert resolved.route is _router_choice(app, method, path), (method, route.path)
            checked += 1
    assert checked >= 25


def test_unknown_paths_and_methods_are_left_to_the_router(tmp_path: Path) -> None:
    table = RouteTable(create_app(make_settings(tmp_path)).routes, load_catalog())
    assert table.resolve("GET", "/nowhere").route is None
    assert table.resolve("DELETE", "/healthz").route is None
    assert table.resolve("GET", "/healthz").product.name == "ops.health.read"


def test_a_path_shadowed_by_an_earlier_template_stops_the_start_up() -> None:
    router = APIRouter()

    @router.get("/v1/accounts/{account_id}", openapi_extra=product("accounts.read"))
    async def one(account_id: str) -> dict[str, str]:
        return {}

    @router.get("/v1/accounts/mine", openapi_extra=product("accounts.read"))
    async def mine() -> dict[str, str]:
        return {}

    with pytest.raises(CatalogError, match="/v1/accounts/mine is shadowed by"):
        RouteTable(router.routes, load_catalog())
