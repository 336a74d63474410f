"""Which API product a request is for, resolved from the app's route table at start-up.

Every route names its product in its declaration (`product("accounts.read")`); the table is
built once from the app's routes, so a route without a product, or with one the catalogue
lacks, stops the start-up instead of failing a request. The table also knows what the host
needs before the route runs: whether the route reads a JSON body, whether its answer must
never be stored, and which methods a path serves (the `Allow` of a `405`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import params
from fastapi.routing import RouteContext, iter_route_contexts
from starlette.routing import BaseRoute

from policies.catalog import Catalog, CatalogError, Product, SecurityLevel

PRODUCT_KEY = "x-api-product"
NO_STORE_KEY = "x-no-store"
UNROUTED = "unrouted"
METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def product(
    name: str, *, problems: list[int] | None = None, no_store: bool = False, **extra: Any
) -> dict[str, Any]:
    """The `openapi_extra` of an operation that belongs to API product `name`.

    `problems` lists the problem statuses the route answers beyond those its product
    implies (see `gateway.http.openapi`); `no_store` marks an answer that carries
    credentials, which no cache may keep (A2 products are never stored either); `extra` is
    merged into the operation as is.
    """
    declared: dict[str, Any] = {PRODUCT_KEY: name, **extra}
    if problems:
        declared["x-problems"] = problems
    if no_store:
        declared[NO_STORE_KEY] = True
    return declared


def product_of(route: object) -> str | None:
    """The product a route declares, if any."""
    extra = getattr(route, "openapi_extra", None) or {}
    name = extra.get(PRODUCT_KEY)
    return name if isinstance(name, str) else None


@dataclass(frozen=True, slots=True)
class Resolved:
    """A request's product, its route template (`/v1/accounts/{account_id}`) and the name of
    its server span (`GET /v1/accounts/{account_id}`).

    `takes_json`: the route reads a JSON body; `is_no_store`: its answer must never be
    stored; `allow`: for a path served under other methods only, the methods it serves.
    """

    product: Product
    template: str
    span_name: str
    route: BaseRoute | None = None
    takes_json: bool = False
    is_no_store: bool = False
    allow: str = ""


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
        """The product serving `method path`; paths and methods no route serves are `unrouted`
        (with the methods the path serves, if it serves any)."""
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
        unrouted = self._unrouted.get(method, self._unknown_method)
        allowed = self.methods(path)
        if not allowed:
            return unrouted
        allow = ", ".join(m for m in METHOD_ORDER if m in allowed)
        return Resolved(unrouted.product, "", unrouted.span_name, allow=allow)

    def methods(self, path: str) -> frozenset[str]:
        """Every method some route serves at `path` (RFC 9110 §10.2.1 `Allow`)."""
        found: set[str] = set()
        for entry in self._static.get(path, ()):
            found |= entry.methods
        for entry in self._templated:
            if path.startswith(entry.prefix) and entry.regex.match(path):
                found |= entry.methods
        return frozenset(found)


def _takes_json(route: RouteContext) -> bool:
    body = getattr(route, "body_field", None)
    return body is not None and not isinstance(body.field_info, params.Form)


def _entry(route: RouteContext, resolved_product: Product) -> _Entry:
    path = route.path or ""
    methods = set(route.methods or {"GET"})
    if "GET" in methods:
        methods.add("HEAD")
    extra = getattr(route, "openapi_extra", None) or {}
    no_store = resolved_product.level is SecurityLevel.A2 or bool(extra.get(NO_STORE_KEY))
    takes_json = _takes_json(route)
    return _Entry(
        prefix=path.partition("{")[0],
        regex=route.path_regex,
        methods=frozenset(methods),
        resolved={
            m: Resolved(
                resolved_product,
                path,
                f"{m} {path}",
                route.original_route,
                takes_json=takes_json,
                is_no_store=no_store,
            )
            for m in methods
        },
    )
