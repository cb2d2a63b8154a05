"""Self-healing: fix attempts per incident, learned fix records, escalation reasons.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("incidents", sa.Column("escalation", sa.Text))
    op.create_table(
        "fix_attempts",
        sa.Column("command_id", sa.String(64), primary_key=True),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("sent_at", sa.Float, nullable=False),
        sa.Column("result_state", sa.String(16)),
        sa.Column("result_at", sa.Float),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("verified", sa.Boolean),
        sa.Column("evidence_from", sa.Float),
        sa.Column("evidence_to", sa.Float),
    )
    op.create_index("ix_fix_attempts_incident", "fix_attempts", ["incident_id", "number"])
    op.create_table(
        "fix_records",
        sa.Column("model", sa.String(256), primary_key=True),
        sa.Column("signature", sa.String(128), primary_key=True),
        sa.Column("action", sa.String(64), primary_key=True),
        sa.Column("successes", sa.Integer, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("fix_records")
    op.drop_index("ix_fix_attempts_incident", "fix_attempts")
    op.drop_table("fix_attempts")
    op.drop_column("incidents", "escalation")
