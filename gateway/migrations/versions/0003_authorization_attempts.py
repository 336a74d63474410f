"""Failed customer authentications and lock-outs, shared by every replica.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "authorization_attempts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("subject", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_authorization_attempts_subject", "authorization_attempts", ["subject", "kind"]
    )
    op.create_index("ix_authorization_attempts_expires", "authorization_attempts", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_authorization_attempts_expires", "authorization_attempts")
    op.drop_index("ix_authorization_attempts_subject", "authorization_attempts")
    op.drop_table("authorization_attempts")
