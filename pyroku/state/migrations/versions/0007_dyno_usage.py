"""dyno usage

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dyno_usage",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("dyno_name", sa.String(length=64), nullable=False),
        sa.Column("size", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("stopped_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dyno_usage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dyno_usage_app_id"), ["app_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dyno_usage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dyno_usage_app_id"))

    op.drop_table("dyno_usage")
