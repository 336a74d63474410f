"""The services `create_app` builds once and hands to routes through `gateway.deps`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.contract import CoreBanking
from gateway.consents import ConsentStore
from gateway.ids import Pairwise
from gateway.oauth.authorize import AuthorizationFlow, CustomerDirectory
from gateway.oauth.keys import KeyStore
from gateway.oauth.server import GatewayAuthorizationServer
from gateway.oauth.store import OAuthStore, RevocationFeed
from gateway.registry import Registry
from gateway.settings import Settings
from gateway.storage.database import Database
from policies.catalog import Catalog
from policies.dpop import DPoPVerifier
from policies.pipeline import Pipeline
from policies.revocation import RevocationList


@dataclass(slots=True)
class Services:
    settings: Settings
    db: Database
    catalog: Catalog
    keys: KeyStore
    registry: Registry
    oauth_store: OAuthStore
    consents: ConsentStore
    revocations: RevocationList
    revocation_feed: RevocationFeed
    dpop: DPoPVerifier
    auth_server: GatewayAuthorizationServer
    flow: AuthorizationFlow
    pipeline: Pipeline
    core: CoreBanking
    pairwise: Pairwise
    customers: CustomerDirectory | None
    secret: bytes
    redis: Any | None = None
