"""The product catalogue: the packaged file is valid, and a bad file fails loudly at start-up."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from fastapi.routing import iter_route_contexts

from gateway.app import create_app
from gateway.http.routing import product_of
from policies.catalog import (
    DEFAULT_CATALOG,
    Catalog,
    CatalogError,
    Product,
    SecurityLevel,
    load_catalog,
)
from policies.vocabulary import ALL_SCOPES, CUSTOMER_SCOPES, PERMISSIONS
from tests.conftest import make_settings

VALID = """
tiers:
  bronze: {burst: 20, per_minute: 60, daily: 10000}
risk_limits:
  bronze: {per_consent: "50000.00", daily: "500000.00"}
products:
  products.deposits.read: {scope: products, level: A1}
  accounts.balances.read: {scope: accounts, permissions: [ReadBalances], level: A2}
"""


def write(tmp_path: Path, text: str, name: str = "catalog.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def packaged() -> dict[str, object]:
    raw = yaml.safe_load(DEFAULT_CATALOG.read_text(encoding="utf-8"))
    assert isinstance(raw, dict)
    return raw


def route_products(tmp_path: Path) -> dict[str, str | None]:
    """Each route of a freshly built gateway, with the product it declares."""
    app = create_app(make_settings(tmp_path))
    return {
        f"{sorted(r.methods or [])} {r.path}": product_of(r)
        for r in iter_route_contexts(app.routes)
    }


class TestPackagedCatalog:
    def test_loads(self) -> None:
        """The packaged catalogue loads and names each product after its key."""
        catalog = load_catalog()
        assert isinstance(catalog, Catalog)
        assert catalog.products
        for name, product in catalog.products.items():
            assert product.name == name

    def test_loads_by_explicit_path(self) -> None:
        """Loading the packaged file by path gives the same catalogue."""
        assert load_catalog(DEFAULT_CATALOG) == load_catalog()

    def test_every_product_has_a_level(self) -> None:
        """Every product declares its JR/T 0185 level explicitly, A1 or A2."""
        raw = packaged()["products"]
        assert isinstance(raw, dict)
        for name, fields in raw.items():
            assert "level" in fields, name
        for product in load_catalog().products.values():
            assert product.level in (SecurityLevel.A1, SecurityLevel.A2)

    def test_customer_data_and_consents_are_a2(self) -> None:
        """Products behind a consent or a customer scope are A2; product catalogues are A1."""
        for name, product in load_catalog().products.items():
            if product.requires_consent or product.scope in CUSTOMER_SCOPES:
                assert product.level is SecurityLevel.A2, name
            if name.startswith("products."):
                assert product.level is SecurityLevel.A1, name

    def test_scopes_and_permissions_are_known(self) -> None:
        """Every scope is a real OAuth scope and every permission a real consent permission."""
        permissions = {p for group in PERMISSIONS.values() for p in group}
        for name, product in load_catalog().products.items():
            assert product.scope is None or product.scope in ALL_SCOPES, name
            assert set(product.permissions) <= permissions, name

    def test_every_route_names_a_declared_product(self, tmp_path: Path) -> None:
        """Every route, the OAuth endpoints and probes included, names a catalogue product."""
        declared = set(load_catalog().products)
        routes = route_products(tmp_path)
        assert len(routes) > 20
        missing = {route: name for route, name in routes.items() if name not in declared}
        assert not missing

    def test_unknown_product_lookup_names_it(self) -> None:
        """Asking for an undeclared product is a KeyError naming it."""
        with pytest.raises(KeyError, match=re.escape("no.such.product")):
            load_catalog().product("no.such.product")


class TestInvalidCatalog:
    def test_minimal_file_loads(self, tmp_path: Path) -> None:
        """Positive control: the minimal file the invalid cases are derived from loads."""
        catalog = load_catalog(write(tmp_path, VALID))
        assert catalog.product("accounts.balances.read").requires_consent
        assert not catalog.product("products.deposits.read").requires_consent

    @pytest.mark.parametrize(
        ("text", "mentions"),
        [
            (
                VALID.replace("level: A1}", "level: A1, colour: blue}"),
                ["products.deposits.read", "colour"],
            ),
            (VALID.replace("level: A2", "level: A3"), ["accounts.balances.read", "level"]),
            (VALID.replace("level: A1", "level: a1"), ["products.deposits.read", "level"]),
            (VALID.replace(", level: A1", ""), ["products.deposits.read", "level"]),
            (VALID.replace("{scope: products, ", "{"), ["products.deposits.read", "scope"]),
            (VALID.replace("burst: 20", "burst: 0"), ["bronze", "burst"]),
            (VALID + "extra_section: {}\n", ["extra_section"]),
            (VALID.replace("[ReadBalances]", "ReadBalances"), ["permissions"]),
            ("", []),
            ("- just\n- a list\n", []),
            ("tiers: {}\n", ["products"]),
            (VALID.replace('per_consent: "50000.00"', 'per_consent: "-1"'), ["per_consent"]),
            (VALID.replace('daily: "500000.00"', "daily: 0.001"), ["daily"]),
            (
                VALID.replace(", idempotency", "").replace(
                    "level: A1}", "level: A1, idempotency: always}"
                ),
                ["idempotency"],
            ),
        ],
    )
    def test_invalid_file_raises_catalog_error_naming_it(
        self, tmp_path: Path, text: str, mentions: list[str]
    ) -> None:
        """An unknown field, bad level or missing key is a CatalogError naming file and field."""
        path = write(tmp_path, text, "bad-catalog.yaml")
        with pytest.raises(CatalogError) as raised:
            load_catalog(path)
        message = str(raised.value)
        assert str(path) in message
        assert "OBGW_POLICY_FILE" in message
        for word in mentions:
            assert word in message

    @pytest.mark.parametrize(
        "text", ["tiers: {bronze: [unclosed\n", "products: {a: {scope: x, level: A1}\n\t- x"]
    )
    def test_unparseable_yaml_raises_catalog_error(self, tmp_path: Path, text: str) -> None:
        """A file that is not YAML is a CatalogError naming it."""
        path = write(tmp_path, text, "broken.yaml")
        with pytest.raises(CatalogError, match=re.escape(str(path))):
            load_catalog(path)

    def test_missing_file_raises_catalog_error(self, tmp_path: Path) -> None:
        """A catalogue path that does not exist is a CatalogError naming it."""
        path = tmp_path / "absent.yaml"
        with pytest.raises(CatalogError, match=re.escape(str(path))):
            load_catalog(path)

    def test_products_are_frozen(self) -> None:
        """Loaded products cannot be changed at run time."""
        product = load_catalog().product("products.deposits.read")
        with pytest.raises(ValueError):
            product.level = SecurityLevel.A2  # type: ignore[misc]
        assert isinstance(product, Product)

    def test_documented_tier_field_is_accepted(self, tmp_path: Path) -> None:
        """A product may name its rate tier, as the packaged file's header documents."""
        text = VALID.replace(
            "{scope: products, level: A1}", "{scope: products, level: A1, tier: bronze}"
        )
        load_catalog(write(tmp_path, text))


class TestCatalogAtStartUp:
    def test_bad_policy_file_stops_create_app(self, tmp_path: Path) -> None:
        """OBGW_POLICY_FILE pointing at an invalid catalogue stops the gateway at start-up."""
        path = write(tmp_path, VALID.replace("level: A2", "level: A9"))
        with pytest.raises(CatalogError, match=re.escape(str(path))):
            create_app(make_settings(tmp_path, policy_file=path))

    def test_catalog_missing_a_route_product_stops_create_app(self, tmp_path: Path) -> None:
        """A catalogue lacking a product some route needs fails at start-up, not per request."""
        text = DEFAULT_CATALOG.read_text(encoding="utf-8")
        path = write(
            tmp_path,
            "\n".join(line for line in text.splitlines() if "accounts.balances.read" not in line),
        )
        assert "accounts.balances.read" not in load_catalog(path).products
        with pytest.raises(CatalogError, match=re.escape("accounts.balances.read")):
            create_app(make_settings(tmp_path, policy_file=path))
