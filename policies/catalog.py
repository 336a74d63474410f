"""The product catalogue: scope, consent permissions, security level and tier per product.

Loaded and validated once at start-up; a bad file stops the gateway with a message that
names the product and the field.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULT_CATALOG = Path(__file__).with_name("catalog.yaml")


class SecurityLevel(StrEnum):
    """JR/T 0185 security levels."""

    A1 = "A1"
    A2 = "A2"


class RateTier(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    burst: int = Field(gt=0)
    per_minute: int = Field(gt=0)
    daily: int = Field(gt=0)


class Product(BaseModel):
    """One API product: what a route needs to be called."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    scope: str | None
    permissions: tuple[str, ...] = ()
    level: SecurityLevel
    tier: str | None = None
    idempotent: bool = False

    @property
    def requires_consent(self) -> bool:
        return bool(self.permissions)


class Catalog(BaseModel):
    """All products and rate tiers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tiers: dict[str, RateTier]
    products: dict[str, Product]

    def product(self, name: str) -> Product:
        try:
            return self.products[name]
        except KeyError:
            raise KeyError(f"product {name!r} is not in the catalogue") from None


class CatalogError(RuntimeError):
    """The catalogue file is unreadable or invalid."""


def load_catalog(path: Path | None = None) -> Catalog:
    """Read and validate the catalogue (`OBGW_POLICY_FILE`, else the packaged one)."""
    source = path or DEFAULT_CATALOG
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
        catalog = Catalog.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"cannot read product catalogue {source}: {exc}") from exc
    except ValidationError as exc:
        raise CatalogError(f"invalid product catalogue {source} (OBGW_POLICY_FILE): {exc}") from exc
    for name, product in catalog.products.items():
        if product.tier is not None and product.tier not in catalog.tiers:
            raise CatalogError(
                f"invalid product catalogue {source}: product {name!r} names unknown "
                f"tier {product.tier!r} (known: {', '.join(catalog.tiers)})"
            )
    named = {n: p.model_copy(update={"name": n}) for n, p in catalog.products.items()}
    return catalog.model_copy(update={"products": named})
