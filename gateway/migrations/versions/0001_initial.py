"""Initial schema: partners, clients, OAuth state, revocations, consents.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def _ts(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sector", sa.String(20), nullable=False),
        sa.Column("tier", sa.String(10), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("contact_email", sa.String(320)),
        _ts("created_at", False),
    )
    op.create_table(
        "clients",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("partner_id", sa.String(40), sa.ForeignKey("partners.id")),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.String(128)),
        sa.Column("jwks", sa.JSON()),
        sa.Column("auth_method", sa.String(40), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        _ts("created_at", False),
    )
    op.create_index("ix_clients_partner", "clients", ["partner_id"])
    op.create_table(
        "authorization_requests",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        _ts("expires_at", False),
        _ts("consumed_at"),
    )
    op.create_table(
        "authorization_codes",
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
        _ts("auth_time", False),
        _ts("expires_at", False),
        _ts("used_at"),
        _ts("reused_at"),
    )
    op.create_table(
        "access_tokens",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("grant_id", sa.String(40)),
        sa.Column("consent_id", sa.String(40)),
        _ts("expires_at", False),
        _ts("revoked_at"),
    )
    op.create_index("ix_access_tokens_grant", "access_tokens", ["grant_id"])
    op.create_index("ix_access_tokens_expires", "access_tokens", ["expires_at"])
    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("grant_id", sa.String(40), nullable=False),
        sa.Column("consent_id", sa.String(40)),
        sa.Column("customer_ref", sa.String(200)),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("dpop_jkt", sa.String(64)),
        _ts("created_at", False),
        _ts("expires_at", False),
        _ts("revoked_at"),
    )
    op.create_index("ix_refresh_tokens_grant", "refresh_tokens", ["grant_id"])
    op.create_table(
        "revocations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        _ts("created_at", False),
        _ts("expires_at", False),
    )
    op.create_index("ix_revocations_created", "revocations", ["created_at"])
    op.create_index("ix_revocations_subject", "revocations", ["kind", "value"])
    op.create_table(
        "used_jtis",
        sa.Column("key", sa.String(300), primary_key=True),
        _ts("expires_at", False),
    )
    op.create_table(
        "consents",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("partner_id", sa.String(40), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        _ts("expires_at"),
        sa.Column("payment", sa.JSON()),
        sa.Column("customer_ref", sa.String(200)),
        sa.Column("psu_id", sa.String(40)),
        sa.Column("accounts", sa.JSON()),
        _ts("created_at", False),
        _ts("updated_at", False),
    )
    op.create_index("ix_consents_partner", "consents", ["partner_id"])
    op.create_index("ix_consents_psu", "consents", ["psu_id"])


def downgrade() -> None:
    for table in (
        "consents",
        "used_jtis",
        "revocations",
        "refresh_tokens",
        "access_tokens",
        "authorization_codes",
        "authorization_requests",
        "clients",
        "partners",
    ):
        op.drop_table(table)
