"""Outreach delivery: items (one open per device and reason), the delivery due-queue,
owners' responses, service outcomes and owners' contact preferences.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _items()
    op.create_table(
        "outreach_deliveries",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("item_id", sa.Integer, nullable=False),
        sa.Column("owner_id", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("critical", sa.Boolean, nullable=False),
        sa.Column("due_at", sa.Float, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("lease_owner", sa.String(128)),
        sa.Column("lease_until", sa.Float),
        sa.Column("sent_at", sa.Float),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_outreach_deliveries_item_id", "outreach_deliveries", ["item_id"])
    op.create_index(
        "ix_outreach_deliveries_state_next", "outreach_deliveries", ["state", "next_attempt_at"]
    )
    op.create_index(
        "ix_outreach_deliveries_owner", "outreach_deliveries", ["owner_id", "critical", "state"]
    )
    op.create_table(
        "outreach_responses",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.Integer, nullable=False),
        sa.Column("owner_id", sa.String(128), nullable=False),
        sa.Column("response", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16)),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("slot_start", sa.Float),
        sa.Column("slot_end", sa.Float),
        sa.Column("until", sa.Float),
        sa.Column("rating", sa.Integer),
        sa.Column("text", sa.Text),
    )
    op.create_index("ix_outreach_responses_item_id", "outreach_responses", ["item_id"])
    op.create_index("ix_outreach_responses_owner_at", "outreach_responses", ["owner_id", "at"])
    op.create_table(
        "outreach_outcomes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_outreach_outcomes_item_id", "outreach_outcomes", ["item_id"])
    op.create_table(
        "owner_preferences",
        sa.Column("owner_id", sa.String(128), primary_key=True),
        sa.Column("preferences", sa.JSON, nullable=False),
        sa.Column("webhook_secret", sa.String(128)),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def _items() -> None:
    op.create_table(
        "outreach_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("owner_id", sa.String(128)),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("dedupe_key", sa.String(256), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("predicted_failure_at", sa.Float),
        sa.Column("lead_time_s", sa.Float),
        sa.Column("slots", sa.JSON, nullable=False),
        sa.Column("incident_id", sa.Integer),
        sa.Column("support_request_id", sa.Integer),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("plan_after", sa.Float),
        sa.Column("delivered_at", sa.Float),
        sa.Column("closed_at", sa.Float),
        sa.Column("booked_start", sa.Float),
        sa.Column("booked_end", sa.Float),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_index("ix_outreach_items_owner_status", "outreach_items", ["owner_id", "status"])
    op.create_index("ix_outreach_items_plan_after", "outreach_items", ["plan_after"])
    op.create_index("ix_outreach_items_dedupe", "outreach_items", ["dedupe_key", "closed_at"])
    op.create_index(
        "ux_outreach_items_open",
        "outreach_items",
        ["dedupe_key"],
        unique=True,
        postgresql_where=sa.text("closed_at IS NULL"),
        sqlite_where=sa.text("closed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("owner_preferences")
    op.drop_table("outreach_outcomes")
    op.drop_table("outreach_responses")
    op.drop_table("outreach_deliveries")
    op.drop_table("outreach_items")
