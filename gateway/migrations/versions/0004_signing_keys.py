"""Token signing keys in the shared database, so every replica follows rotations and revocations.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("alg", sa.String(10), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("sealed_private_jwk", sa.Text()),
        sa.Column("active", sa.Boolean()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("active", name="uq_signing_keys_active"),
    )


def downgrade() -> None:
    op.drop_table("signing_keys")
