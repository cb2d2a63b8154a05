"""Support requests with diagnostics: device bundles, requests with their SLA clocks,
and the service team's replies.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "diagnostic_bundles",
        sa.Column("device_id", sa.String(64), primary_key=True),
        sa.Column("bundle_id", sa.String(64), primary_key=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("bundle", sa.JSON, nullable=False),
    )
    op.create_index("ix_diagnostic_bundles_request_id", "diagnostic_bundles", ["request_id"])
    op.create_table(
        "support_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("owner_id", sa.String(128)),
        sa.Column("filed_by", sa.String(16), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("first_response_due", sa.Float, nullable=False),
        sa.Column("resolution_due", sa.Float, nullable=False),
        sa.Column("first_response_at", sa.Float),
        sa.Column("resolved_at", sa.Float),
        sa.Column("resolution", sa.Text),
        sa.Column("escalated_at", sa.Float),
        sa.Column("escalation", sa.Text),
        sa.Column("command_id", sa.String(64)),
        sa.Column("command_sent_at", sa.Float),
        sa.Column("bundle_id", sa.String(64)),
        sa.Column("cloud_summary", sa.JSON),
        sa.Column("diagnostics_note", sa.Text),
        sa.Column("diagnostics_at", sa.Float),
    )
    op.create_index("ix_support_requests_device_id", "support_requests", ["device_id"])
    op.create_index(
        "ix_support_requests_status_created", "support_requests", ["status", "created_at"]
    )
    op.create_table(
        "support_replies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.Integer, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("author", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_index("ix_support_replies_request_id", "support_replies", ["request_id"])


def downgrade() -> None:
    op.drop_index("ix_support_replies_request_id", table_name="support_replies")
    op.drop_table("support_replies")
    op.drop_index("ix_support_requests_status_created", table_name="support_requests")
    op.drop_index("ix_support_requests_device_id", table_name="support_requests")
    op.drop_table("support_requests")
    op.drop_index("ix_diagnostic_bundles_request_id", table_name="diagnostic_bundles")
    op.drop_table("diagnostic_bundles")
