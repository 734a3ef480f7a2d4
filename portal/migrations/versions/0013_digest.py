"""The daily digest's claim per day, and an index for the dashboard's weekly figures

Revision ID: 0013
Revises: 0008
Create Date: 2026-11-29 19:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "digest_run",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_digest_run")),
    )


def downgrade():
    op.drop_table("digest_run")
