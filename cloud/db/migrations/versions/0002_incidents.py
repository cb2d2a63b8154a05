"""Incidents opened by anomaly detection.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("model", sa.String(256)),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at", sa.Float, nullable=False),
        sa.Column("evidence_since", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("resolved_at", sa.Float),
        sa.Column("peak_score", sa.Float, nullable=False),
        sa.Column("explanation", sa.JSON, nullable=False),
    )
    op.create_index(
        "ix_incidents_device_signature_status", "incidents", ["device_id", "signature", "status"]
    )
    op.create_index("ix_incidents_status_opened", "incidents", ["status", "opened_at"])


def downgrade() -> None:
    op.drop_table("incidents")
