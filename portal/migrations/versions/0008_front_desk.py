"""The front desk's work on a submission: assignment and first response

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 18:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("submission") as batch_op:
        batch_op.add_column(sa.Column("assigned_to_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("first_response_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("response_seconds", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_submission_assigned_to_id_staff_user"),
            "staff_user",
            ["assigned_to_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_submission_first_response_by_id_staff_user"),
            "staff_user",
            ["first_response_by_id"],
            ["id"],
        )
        batch_op.create_index(
            batch_op.f("ix_submission_assigned_to_id"), ["assigned_to_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_submission_first_response_at"), ["first_response_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("submission") as batch_op:
        batch_op.drop_index(batch_op.f("ix_submission_first_response_at"))
        batch_op.drop_index(batch_op.f("ix_submission_assigned_to_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_submission_first_response_by_id_staff_user"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_submission_assigned_to_id_staff_user"), type_="foreignkey"
        )
        batch_op.drop_column("response_seconds")
        batch_op.drop_column("first_response_by_id")
        batch_op.drop_column("first_response_at")
        batch_op.drop_column("assigned_to_id")
