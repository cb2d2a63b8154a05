"""Service verdicts on incidents, and the detector tunings a false positive leaves behind.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("verdict", sa.String(16)))
        batch.add_column(sa.Column("verdict_at", sa.Float))
        batch.add_column(sa.Column("verdict_note", sa.Text))
    op.create_table(
        "detector_tunings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("min_score", sa.Float, nullable=False),
        sa.Column("muted_detector", sa.String(32)),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index(
        "ix_detector_tunings_device_signature", "detector_tunings", ["device_id", "signature"]
    )


def downgrade() -> None:
    op.drop_table("detector_tunings")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("verdict_note")
        batch.drop_column("verdict_at")
        batch.drop_column("verdict")
