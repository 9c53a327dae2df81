"""slugs

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slugs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("process_types", sa.JSON(), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=True),
        sa.Column("commit_description", sa.Text(), nullable=True),
        sa.Column("buildpack_provided_description", sa.Text(), nullable=True),
        sa.Column("expected_checksum", sa.String(length=80), nullable=True),
        sa.Column("checksum", sa.String(length=80), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("upload_token_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("slugs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slugs_app_id"), ["app_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("slugs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slugs_app_id"))

    op.drop_table("slugs")
