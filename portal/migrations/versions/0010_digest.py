"""The daily digest's claim per day, and the indexes of the dashboard and the digest

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 19:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
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
    with op.batch_alter_table("submission") as batch_op:
        batch_op.create_index("ix_submission_status_created_at", ["status", "created_at"])
        batch_op.create_index("ix_submission_status_assigned_to_id", ["status", "assigned_to_id"])
        batch_op.create_index(
            "ix_submission_dashboard",
            ["created_at", "form", "response_seconds", "specialty", "topic"],
        )


def downgrade():
    with op.batch_alter_table("submission") as batch_op:
        batch_op.drop_index("ix_submission_dashboard")
        batch_op.drop_index("ix_submission_status_assigned_to_id")
        batch_op.drop_index("ix_submission_status_created_at")
    op.drop_table("digest_run")
