"""Money: idempotency keys, payments, bills, daily risk totals and the sandbox bank's state.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("product", sa.String(80), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),  # in_flight | completed
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("status_code", sa.Integer()),
        sa.Column("response_headers", sa.JSON()),
        sa.Column("response_body", sa.LargeBinary()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "payments",
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
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("client_id", "idempotency_key", name="uq_payments_idempotency"),
    )
    op.create_table(
        "bills",
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
        sa.Column("settles_at", sa.DateTime(timezone=True)),
        sa.Column("settled_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("partner_id", "pay_code", name="uq_bills_pay_code"),
    )
    op.create_table(
        "risk_totals",
        sa.Column("partner_id", sa.String(40), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "sandbox_worlds",
        sa.Column("partner_id", sa.String(40), primary_key=True),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("anchor", sa.DateTime(timezone=True), nullable=False),
        sa.Column("clock_offset", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "sandbox_transfers",
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
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settles_at", sa.DateTime(timezone=True)),
        sa.Column("booked_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("partner_id", "reference", name="uq_sandbox_transfers_reference"),
    )
    op.create_index("ix_idempotency_keys_expires", "idempotency_keys", ["expires_at"])
    op.create_index("ix_payments_partner_status", "payments", ["partner_id", "status"])
    op.create_index("ix_payments_consent", "payments", ["consent_id"])
    op.create_index("ix_bills_partner_status", "bills", ["partner_id", "status", "id"])
    op.create_index("ix_bills_partner_settled", "bills", ["partner_id", "settled_at"])
    op.create_index("ix_bills_due", "bills", ["status", "due_date"])
    op.create_index("ix_sandbox_transfers_world", "sandbox_transfers", ["partner_id", "seed"])


def downgrade() -> None:
    op.drop_index("ix_sandbox_transfers_world", "sandbox_transfers")
    op.drop_index("ix_bills_due", "bills")
    op.drop_index("ix_bills_partner_settled", "bills")
    op.drop_index("ix_bills_partner_status", "bills")
    op.drop_index("ix_payments_consent", "payments")
    op.drop_index("ix_payments_partner_status", "payments")
    op.drop_index("ix_idempotency_keys_expires", "idempotency_keys")
    op.drop_table("sandbox_transfers")
    op.drop_table("sandbox_worlds")
    op.drop_table("risk_totals")
    op.drop_table("bills")
    op.drop_table("payments")
    op.drop_table("idempotency_keys")
