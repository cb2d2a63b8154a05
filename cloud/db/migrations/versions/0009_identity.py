"""Device identity and owners: the factory registry, owner accounts, claim throttling,
claim times on ownership links and expiry on API tokens.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "factory_devices",
        sa.Column("device_id", sa.String(64), primary_key=True),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("firmware", sa.String(256), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("claim_code_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("credentials_version", sa.Integer, nullable=False),
        sa.Column("imported_at", sa.Float, nullable=False),
        sa.Column("rotated_at", sa.Float),
    )
    op.create_table(
        "owners",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_key", sa.String(320), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "claim_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("owner_id", sa.String(128), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_claim_failures_owner_at", "claim_failures", ["owner_id", "at"])
    op.create_index("ix_claim_failures_client_at", "claim_failures", ["client", "at"])
    op.create_index("ix_claim_failures_at", "claim_failures", ["at"])
    with op.batch_alter_table("device_owners") as table:
        table.add_column(sa.Column("claimed_at", sa.Float))
    with op.batch_alter_table("api_tokens") as table:
        table.add_column(sa.Column("expires_at", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as table:
        table.drop_column("expires_at")
    with op.batch_alter_table("device_owners") as table:
        table.drop_column("claimed_at")
    op.drop_table("claim_failures")
    op.drop_table("owners")
    op.drop_table("factory_devices")
