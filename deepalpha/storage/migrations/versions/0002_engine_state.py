"""engine state and the day-start equity of each trader

Restart recovery needs to know the last trading day the engine opened per market (to roll T+1
and expire day orders for the days the app was closed) and each trader's equity at the start of
the day (for the daily-loss kill switch).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import deepalpha.storage.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "engine_state",
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("created_at", deepalpha.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", deepalpha.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engine_state")),
    )
    with op.batch_alter_table("engine_state", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_engine_state_updated_at"), ["updated_at"], unique=False
        )

    with op.batch_alter_table("traders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("day_start_equity", deepalpha.storage.types.Money(length=48), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("traders", schema=None) as batch_op:
        batch_op.drop_column("day_start_equity")
    with op.batch_alter_table("engine_state", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_engine_state_updated_at"))
    op.drop_table("engine_state")
