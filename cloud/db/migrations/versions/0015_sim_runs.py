"""Simulation runs: the reports ``aftercare sim run --api`` records, for the
manufacturer view.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sim_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scenario", sa.String(128), nullable=False),
        sa.Column("scenario_file", sa.String(256), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=False),
        sa.Column("recorded_at", sa.Float, nullable=False),
        sa.Column("speed", sa.Float, nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("devices", sa.Integer, nullable=False),
        sa.Column("models", sa.JSON, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("expectations", sa.JSON, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("reported_by", sa.String(128), nullable=False),
    )
    op.create_index("ix_sim_runs_finished_at", "sim_runs", ["finished_at"])
    op.create_index("ix_sim_runs_recorded_at", "sim_runs", ["recorded_at"])


def downgrade() -> None:
    op.drop_index("ix_sim_runs_recorded_at", "sim_runs")
    op.drop_index("ix_sim_runs_finished_at", "sim_runs")
    op.drop_table("sim_runs")
