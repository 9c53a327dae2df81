"""log drains

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_drains",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("app_id", "url"),
    )
    with op.batch_alter_table("log_drains", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_log_drains_app_id"), ["app_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("log_drains", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_log_drains_app_id"))

    op.drop_table("log_drains")
