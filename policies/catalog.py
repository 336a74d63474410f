"""The product catalogue: scope, consent permissions, security level and tier per product.

Loaded and validated once at start-up; a bad file stops the gateway with a message that
names the product and the field.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from policies.vocabulary import ALL_PERMISSIONS, ALL_SCOPES

DEFAULT_CATALOG = Path(__file__).with_name("catalog.yaml")


class SecurityLevel(StrEnum):
    """JR/T 0185 security levels."""

    A1 = "A1"
    A2 = "A2"


class Access(StrEnum):
    """How a product's caller proves who it is."""

    PUBLIC = "public"  # nobody needs to: health, metadata, the portal, sandbox sign-up
    CLIENT = "client"  # the endpoint authenticates the OAuth client itself (RFC 6749 §2.3)
    TOKEN = "token"  # an access token in the Authorization header
    TOKEN_OR_SECRET = "token_or_secret"  # sandbox tooling: a token, or HTTP Basic client secret


class Idempotency(StrEnum):
    """Whether a product takes an `Idempotency-Key` (DESIGN §4)."""

    NONE = "none"  # the header is ignored
    OPTIONAL = "optional"  # honoured when sent
    REQUIRED = "required"  # money movement and financial resources: `400` without it


Amount = Annotated[Decimal, Field(gt=0, max_digits=15, decimal_places=2)]


class RiskLimit(BaseModel):
    """A partner tier's payment caps, in the currency's units (CNY)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_consent: Amount
    daily: Amount


class RateTier(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    burst: int = Field(gt=0)
    per_minute: int = Field(gt=0)
    daily: int = Field(gt=0)


class Product(BaseModel):
    """One API product: what a route needs to be called."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    access: Access = Access.TOKEN
    scope: str | None = None
    permissions: tuple[str, ...] = ()
    level: SecurityLevel
    tier: str | None = None
    idempotency: Idempotency = Idempotency.NONE
    serves_consumed_consent: bool = False  # e.g. reading the payment a consent was used for

    @model_validator(mode="after")
    def _coherent(self) -> Product:
        if self.scope is not None and self.scope not in ALL_SCOPES:
            raise ValueError(f"unknown scope {self.scope!r} (known: {', '.join(ALL_SCOPES)})")
        unknown = [p for p in self.permissions if p not in ALL_PERMISSIONS]
        if unknown:
            raise ValueError(f"unknown consent permissions {unknown}")
        if self.access is not Access.TOKEN and (self.scope or self.permissions):
            raise ValueError("only products with access 'token' can need a scope or permissions")
        if self.access is Access.TOKEN and "scope" not in self.model_fields_set:
            raise ValueError("products taking a token name their 'scope' (null: any token)")
        return self

    @property
    def requires_idempotency_key(self) -> bool:
        return self.idempotency is Idempotency.REQUIRED

    @property
    def requires_consent(self) -> bool:
        return bool(self.permissions)

    @property
    def takes_token(self) -> bool:
        """True when the caller may (or must) present an access token."""
        return self.access in (Access.TOKEN, Access.TOKEN_OR_SECRET)


class Catalog(BaseModel):
    """All products and rate tiers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tiers: dict[str, RateTier]
    risk_limits: dict[str, RiskLimit]
    products: dict[str, Product]

    def risk_limit(self, tier: str) -> RiskLimit:
        """The payment caps of a partner tier (the strictest one for an unknown tier)."""
        limit = self.risk_limits.get(tier)
        if limit is not None:
            return limit
        return min(self.risk_limits.values(), key=lambda r: (r.daily, r.per_consent))

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
    if not catalog.risk_limits:
        raise CatalogError(f"invalid product catalogue {source}: 'risk_limits' names no tier")
    for name, product in catalog.products.items():
        if product.tier is not None and product.tier not in catalog.tiers:
            raise CatalogError(
                f"invalid product catalogue {source}: product {name!r} names unknown "
                f"tier {product.tier!r} (known: {', '.join(catalog.tiers)})"
            )
    named = {n: p.model_copy(update={"name": n}) for n, p in catalog.products.items()}
    return catalog.model_copy(update={"products": named})
