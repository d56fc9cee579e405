"""users of deepalpha serve, and which user owns which trader

``serve`` needs people with roles (admin, trader, viewer) and argon2 password hashes — never a
password. A trader-role user acts only on the traders it owns; ownership is its own table so
that the database enforces it (a removed user lets go of its traders) and the engine's trader
upserts cannot overwrite it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import deepalpha.storage.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("created_at", deepalpha.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", deepalpha.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'trader', 'viewer')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "trader_owners",
        sa.Column("trader_id", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("created_at", deepalpha.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", deepalpha.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner"],
            ["users.name"],
            name=op.f("fk_trader_owners_owner_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trader_id"],
            ["traders.id"],
            name=op.f("fk_trader_owners_trader_id_traders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trader_owners")),
        sa.UniqueConstraint("trader_id", name=op.f("uq_trader_owners_trader_id")),
    )
    with op.batch_alter_table("trader_owners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trader_owners_owner"), ["owner"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_trader_owners_updated_at"), ["updated_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("trader_owners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trader_owners_updated_at"))
        batch_op.drop_index(batch_op.f("ix_trader_owners_owner"))
    op.drop_table("trader_owners")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_updated_at"))
    op.drop_table("users")
