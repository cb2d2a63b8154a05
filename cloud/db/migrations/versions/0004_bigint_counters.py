"""Sequence numbers and drop counters are 64-bit: the wire allows up to 2^53, and a
32-bit column made one large but valid seq fail the whole ingest batch on PostgreSQL.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("samples") as batch:
        batch.alter_column("seq", type_=sa.BigInteger, existing_type=sa.Integer)
    with op.batch_alter_table("devices") as batch:
        batch.alter_column(
            "dropped_total", type_=sa.BigInteger, existing_type=sa.Integer, existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.alter_column(
            "dropped_total", type_=sa.Integer, existing_type=sa.BigInteger, existing_nullable=False
        )
    with op.batch_alter_table("samples") as batch:
        batch.alter_column("seq", type_=sa.Integer, existing_type=sa.BigInteger)
