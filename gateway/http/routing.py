"""Which API product a request is for, resolved from the app's route table at start-up.

Every route names its product in its declaration (`product("accounts.read")`); the table is
built once from the app's routes, so a route without a product, or with one the catalogue
lacks, stops the start-up instead of failing a request.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.routing import RouteContext, iter_route_contexts
from starlette.routing import BaseRoute

from policies.catalog import Catalog, CatalogError, Product

PRODUCT_KEY = "x-api-product"
UNROUTED = "unrouted"


def product(name: str, *, problems: list[int] | None = None, **extra: Any) -> dict[str, Any]:
    """The `openapi_extra` of an operation that belongs to API product `name`.

    `problems` lists the problem statuses the route answers beyond those its product
    implies (see `gateway.http.openapi`); `extra` is merged into the operation as is.
    """
    declared: dict[str, Any] = {PRODUCT_KEY: name, **extra}
    if problems:
        declared["x-problems"] = problems
    return declared


def product_of(route: object) -> str | None:
    """The product a route declares, if any."""
    extra = getattr(route, "openapi_extra", None) or {}
    name = extra.get(PRODUCT_KEY)
    return name if isinstance(name, str) else None


@dataclass(frozen=True, slots=True)
class Resolved:
    """A request's product, its route template (`/v1/accounts/{account_id}`) and the name of
    its server span (`GET /v1/accounts/{account_id}`)."""

    product: Product
    template: str
    span_name: str
    route: BaseRoute | None = None


@dataclass(frozen=True, slots=True)
class _Entry:
    prefix: str
    regex: re.Pattern[str]
    methods: frozenset[str]
    resolved: dict[str, Resolved]


class RouteTable:
    """Resolves `(method, path)` to a product and its route: exact paths by dictionary,
    templates by regex. The host dispatches to the route resolved here, so the table must
    pick the route the framework's router would pick (the first that matches, in order):
    a path that a template declared earlier would take is refused at start-up."""

    def __init__(self, routes: Sequence[BaseRoute], catalog: Catalog) -> None:
        self._static: dict[str, list[_Entry]] = {}
        self._templated: list[_Entry] = []
        missing: list[str] = []
        unknown: set[str] = set()
        for route in iter_route_contexts(routes):
            path = route.path
            if path is None or getattr(route, "path_regex", None) is None:
                raise CatalogError(f"only HTTP routes can be served, not {route.original_route!r}")
            name = product_of(route)
            if name is None:
                missing.append(path)
                continue
            if name not in catalog.products:
                unknown.add(name)
                continue
            entry = _entry(route, catalog.product(name))
            if "{" in path:
                self._templated.append(entry)
            else:
                for earlier in self._templated:
                    if earlier.methods & entry.methods and earlier.regex.match(path):
                        template = next(iter(earlier.resolved.values())).template
                        raise CatalogError(f"route {path} is shadowed by {template}")
                self._static.setdefault(path, []).append(entry)
        if missing:
            raise CatalogError(f"routes without an API product: {', '.join(sorted(missing))}")
        if unknown:
            needed = ", ".join(sorted(unknown))
            raise CatalogError(f"the product catalogue lacks products that routes need: {needed}")
        self._unrouted = {
            method: Resolved(catalog.product(UNROUTED), "", f"{method} unrouted")
            for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
        }
        self._unknown_method = Resolved(catalog.product(UNROUTED), "", "HTTP unrouted")

    def resolve(self, method: str, path: str) -> Resolved:
        """The product serving `method path`; paths and methods no route serves are `unrouted`."""
        for entry in self._static.get(path, ()):
            if method in entry.methods:
                return entry.resolved[method]
        for entry in self._templated:
            if (
                path.startswith(entry.prefix)
                and method in entry.methods
                and entry.regex.match(path)
            ):
                return entry.resolved[method]
        return self._unrouted.get(method, self._unknown_method)


def _entry(route: RouteContext, resolved_product: Product) -> _Entry:
    path = route.path or ""
    methods = set(route.methods or {"GET"})
    if "GET" in methods:
        methods.add("HEAD")
    return _Entry(
        prefix=path.partition("{")[0],
        regex=route.path_regex,
        methods=frozenset(methods),
        resolved={
            m: Resolved(resolved_product, path, f"{m} {path}", route.original_route)
            for m in methods
        },
    )
