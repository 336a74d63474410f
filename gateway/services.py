"""The services `create_app` builds once and hands to routes through `gateway.deps`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.identity import CustomerAuthenticator
from adapters.resilience import CoreClient
from gateway.clock import PartnerClock
from gateway.collections.service import BillService
from gateway.consents.service import ConsentService
from gateway.due import DueWork
from gateway.events.feed import EventFeed
from gateway.events.outbox import Outbox
from gateway.idempotency import DatabaseIdempotencyStore
from gateway.ids import Pairwise
from gateway.oauth.attempts import AuthorizationAttempts
from gateway.oauth.flow import AuthorizationFlow
from gateway.oauth.security_events import SecurityEvents
from gateway.oauth.server import GatewayAuthorizationServer
from gateway.oauth.signing_keys import SigningKeys
from gateway.oauth.state import OAuthState
from gateway.partners.service import Registry
from gateway.payments.service import PaymentService
from gateway.revocations import RevocationFeed, Revocations
from gateway.settings import Settings
from gateway.storage.database import Database
from gateway.telemetry.metrics import Metrics
from gateway.telemetry.tracing import Tracing
from policies.catalog import Catalog
from policies.dpop import DPoPVerifier
from policies.pipeline import Pipeline
from policies.revocation import RevocationList


@dataclass(slots=True)
class Services:
    settings: Settings
    db: Database
    catalog: Catalog
    keys: SigningKeys
    registry: Registry
    oauth_state: OAuthState
    consents: ConsentService
    bills: BillService
    outbox: Outbox
    event_feed: EventFeed
    revocations: Revocations
    revocation_list: RevocationList
    revocation_feed: RevocationFeed
    dpop: DPoPVerifier
    auth_server: GatewayAuthorizationServer
    flow: AuthorizationFlow
    pipeline: Pipeline
    idempotency: DatabaseIdempotencyStore
    clock: PartnerClock
    payments: PaymentService
    due_work: DueWork
    core: CoreClient
    customer_auth: CustomerAuthenticator | None
    attempts: AuthorizationAttempts
    security_events: SecurityEvents
    pairwise: Pairwise
    tracing: Tracing
    metrics: Metrics
    secret: bytes
    redis: Any | None = None
