"""The schema, as SQLAlchemy Core tables. Migrations in `gateway/migrations` create it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite keeps no offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()

partners = sa.Table(
    "partners",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("sector", sa.String(20), nullable=False),
    sa.Column("tier", sa.String(10), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("contact_email", sa.String(320)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

clients = sa.Table(
    "clients",
    metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("partner_id", sa.String(40), sa.ForeignKey("partners.id")),
    sa.Column("kind", sa.String(10), nullable=False),  # partner | ops
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("secret_hash", sa.String(128)),
    sa.Column("jwks", sa.JSON()),
    sa.Column("auth_method", sa.String(40), nullable=False),
    sa.Column("scopes", sa.Text(), nullable=False),
    sa.Column("redirect_uris", sa.JSON(), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)
sa.Index("ix_clients_partner", clients.c.partner_id)

authorization_requests = sa.Table(
    "authorization_requests",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # SHA-256 of the request_uri
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("params", sa.JSON(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("consumed_at", UTCDateTime()),
)

authorization_codes = sa.Table(
    "authorization_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("grant_id", sa.String(40), nullable=False),
    sa.Column("redirect_uri", sa.Text(), nullable=False),
    sa.Column("scope", sa.Text(), nullable=False),
    sa.Column("consent_id", sa.String(40)),
    sa.Column("customer_ref", sa.String(200)),
    sa.Column("code_challenge", sa.String(128), nullable=False),
    sa.Column("code_challenge_method", sa.String(10), nullable=False),
    sa.Column("dpop_jkt", sa.String(64)),
    sa.Column("auth_time", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime()),
    sa.Column("reused_at", UTCDateTime()),
)

access_tokens = sa.Table(
    "access_tokens",
    metadata,
    sa.Column("jti", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("grant_id", sa.String(40)),
    sa.Column("consent_id", sa.String(40)),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime()),
)
sa.Index("ix_access_tokens_grant", access_tokens.c.grant_id)
sa.Index("ix_access_tokens_expires", access_tokens.c.expires_at)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("grant_id", sa.String(40), nullable=False),
    sa.Column("consent_id", sa.String(40)),
    sa.Column("customer_ref", sa.String(200)),
    sa.Column("scope", sa.Text(), nullable=False),
    sa.Column("dpop_jkt", sa.String(64)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime()),
)
sa.Index("ix_refresh_tokens_grant", refresh_tokens.c.grant_id)

revocations = sa.Table(
    "revocations",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    # jti | consent | consent_expired | client | partner
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("value", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)
sa.Index("ix_revocations_created", revocations.c.created_at)
sa.Index("ix_revocations_subject", revocations.c.kind, revocations.c.value)

# Token signing keys: `active` is true for the one signing key and NULL for the others (a
# unique column, so concurrent first starts and rotations agree on one). The private JWK,
# sealed under the gateway secret, is deleted when the key retires.
signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.String(64), primary_key=True),
    sa.Column("alg", sa.String(10), nullable=False),
    sa.Column("public_jwk", sa.JSON(), nullable=False),
    sa.Column("sealed_private_jwk", sa.Text()),
    sa.Column("active", sa.Boolean()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("retired_at", UTCDateTime()),
    sa.Column("revoked_at", UTCDateTime()),
    sa.UniqueConstraint("active", name="uq_signing_keys_active"),
)

used_jtis = sa.Table(
    "used_jtis",
    metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)

consents = sa.Table(
    "consents",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("partner_id", sa.String(40), nullable=False),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("permissions", sa.JSON(), nullable=False),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("expires_at", UTCDateTime()),
    sa.Column("payment", sa.JSON()),
    sa.Column("customer_ref", sa.String(200)),
    sa.Column("psu_id", sa.String(40)),
    sa.Column("accounts", sa.JSON()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)
sa.Index("ix_consents_partner", consents.c.partner_id)
sa.Index("ix_consents_psu", consents.c.psu_id)

# The transactional outbox: one row per event, written with the change it reports.
events = sa.Table(
    "events",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("partner_id", sa.String(40), nullable=False),
    sa.Column("type", sa.String(60), nullable=False),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.Column("occurred_at", UTCDateTime(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)
sa.Index("ix_events_partner_seq", events.c.partner_id, events.c.seq)

# Failed customer authentications and the locks they lead to, counted in the store so that
# every replica sees them: one row per attempt (`kind` attempt) or lock (`kind` lock).
authorization_attempts = sa.Table(
    "authorization_attempts",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("subject", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),  # attempt | lock
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)
sa.Index(
    "ix_authorization_attempts_subject",
    authorization_attempts.c.subject,
    authorization_attempts.c.kind,
)
sa.Index("ix_authorization_attempts_expires", authorization_attempts.c.expires_at)

# Idempotency keys (DESIGN §4): one row per client and key. A request claims its key in a
# transaction of its own (`in_flight`, until `locked_until`); the response is stored in the
# same transaction as the request's effect (`completed`) and replayed for 24 hours.
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("product", sa.String(80), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("state", sa.String(12), nullable=False),  # in_flight | completed
    sa.Column("locked_until", UTCDateTime()),
    sa.Column("status_code", sa.Integer()),
    sa.Column("response_headers", sa.JSON()),
    sa.Column("response_body", sa.LargeBinary()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)
sa.Index("ix_idempotency_keys_expires", idempotency_keys.c.expires_at)

# Payments. Amounts are integer cents on every backend (SQLite has no exact decimal type).
# `Initiating` is internal: the core was asked and has not answered yet (or its answer was
# lost); a retry or the reconciler looks the payment up in the core before asking again.
payments = sa.Table(
    "payments",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("partner_id", sa.String(40), nullable=False),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("consent_id", sa.String(40), nullable=False),
    sa.Column("customer_ref", sa.String(200), nullable=False),
    sa.Column("psu_id", sa.String(40), nullable=False),
    sa.Column("debtor_account_id", sa.String(40), nullable=False),
    sa.Column("debtor_account_ref", sa.String(200), nullable=False),
    sa.Column("amount_cents", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("creditor_account_number", sa.String(34), nullable=False),
    sa.Column("creditor_name", sa.String(140), nullable=False),
    sa.Column("reference", sa.String(140), nullable=False),
    sa.Column("bill_id", sa.String(40)),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("reason", sa.String(60)),
    sa.Column("idempotency_key", sa.String(64), nullable=False),
    sa.Column("core_ref", sa.String(200)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("status_updated_at", UTCDateTime(), nullable=False),
    sa.Column("settled_at", UTCDateTime()),
    sa.UniqueConstraint("client_id", "idempotency_key", name="uq_payments_idempotency"),
)
sa.Index("ix_payments_partner_status", payments.c.partner_id, payments.c.status)
sa.Index("ix_payments_consent", payments.c.consent_id)

# Bills a scene partner collects. `settled_at` is when the money arrived (the day of the
# statement it belongs to); `settles_at` is when a pending bank-channel payment will.
bills = sa.Table(
    "bills",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("partner_id", sa.String(40), nullable=False),
    sa.Column("category", sa.String(20), nullable=False),
    sa.Column("payer_reference", sa.String(64), nullable=False),
    sa.Column("payer_name", sa.String(140), nullable=False),
    sa.Column("description", sa.String(280), nullable=False),
    sa.Column("amount_cents", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("due_date", sa.Date(), nullable=False),
    sa.Column("pay_code", sa.String(20), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("channel", sa.String(20)),
    sa.Column("payment_id", sa.String(40)),
    sa.Column("settles_at", UTCDateTime()),
    sa.Column("settled_at", UTCDateTime()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("status_updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("partner_id", "pay_code", name="uq_bills_pay_code"),
)
sa.Index("ix_bills_partner_status", bills.c.partner_id, bills.c.status, bills.c.id)
sa.Index("ix_bills_partner_settled", bills.c.partner_id, bills.c.settled_at)
sa.Index("ix_bills_due", bills.c.status, bills.c.due_date)

# What partners moved per China business day, checked against the tier's daily cap; a
# payment reserves its amount before the core is asked and gives it back if refused.
risk_totals = sa.Table(
    "risk_totals",
    metadata,
    sa.Column("partner_id", sa.String(40), primary_key=True),
    sa.Column("day", sa.Date(), primary_key=True),
    sa.Column("amount_cents", sa.BigInteger(), nullable=False),
)

# The sandbox bank's state per partner: the seed and history anchor of its synthetic world,
# its virtual clock (an offset from real time, never negative) and a version every change
# bumps, so that each replica knows when to reload.
sandbox_worlds = sa.Table(
    "sandbox_worlds",
    metadata,
    sa.Column("partner_id", sa.String(40), primary_key=True),
    sa.Column("seed", sa.Integer(), nullable=False),
    sa.Column("anchor", UTCDateTime(), nullable=False),
    sa.Column("clock_offset", sa.BigInteger(), nullable=False),
    sa.Column("version", sa.BigInteger(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# Money the sandbox bank moved on its customers' accounts (on top of the generated history).
sandbox_transfers = sa.Table(
    "sandbox_transfers",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("partner_id", sa.String(40), nullable=False),
    sa.Column("seed", sa.Integer(), nullable=False),
    sa.Column("reference", sa.String(64), nullable=False),
    sa.Column("account_ref", sa.String(200), nullable=False),
    sa.Column("amount_cents", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("credit_debit", sa.String(6), nullable=False),
    sa.Column("counterparty", sa.String(140), nullable=False),
    sa.Column("description", sa.String(140), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),  # Pending | Booked
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("settles_at", UTCDateTime()),
    sa.Column("booked_at", UTCDateTime()),
    sa.UniqueConstraint("partner_id", "reference", name="uq_sandbox_transfers_reference"),
)
sa.Index("ix_sandbox_transfers_world", sandbox_transfers.c.partner_id, sandbox_transfers.c.seed)
