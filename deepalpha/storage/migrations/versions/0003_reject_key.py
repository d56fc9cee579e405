"""the catalogue key and parameters of an order's rejection or expiry reason

The reason text is English. With its message key and parameters stored beside it, the UI can
say the same reason in Chinese after a restart; rows written before this revision keep their
plain text.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reject_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("reject_params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("reject_params")
        batch_op.drop_column("reject_key")
