"""Guided setup: owners' ticks of their setup steps, support items for steps that
failed or stalled, and an index to read setup events by kind.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "setup_completions",
        sa.Column("device_id", sa.String(64), primary_key=True),
        sa.Column("step", sa.String(64), primary_key=True),
        sa.Column("owner_id", sa.String(128), nullable=False),
        sa.Column("completed_at", sa.Float, nullable=False),
    )
    op.create_table(
        "support_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("opened_at", sa.Float, nullable=False),
        sa.Column("resolved_at", sa.Float),
    )
    op.create_index("ix_support_items_device_step", "support_items", ["device_id", "step"])
    op.create_index(
        "ux_support_items_open",
        "support_items",
        ["device_id", "step"],
        unique=True,
        postgresql_where=sa.text("resolved_at IS NULL"),
        sqlite_where=sa.text("resolved_at IS NULL"),
    )
    op.create_index("ix_events_kind", "events", ["kind"])


def downgrade() -> None:
    op.drop_index("ix_events_kind", table_name="events")
    op.drop_index("ux_support_items_open", table_name="support_items")
    op.drop_index("ix_support_items_device_step", table_name="support_items")
    op.drop_table("support_items")
    op.drop_table("setup_completions")
