"""The patient's preferred language and whether they need an interpreter

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 18:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preferred_language", sa.String(length=35), nullable=True))
        batch_op.add_column(sa.Column("interpreter", sa.String(length=3), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_submission_preferred_language"), ["preferred_language"], unique=False
        )


def downgrade():
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submission_preferred_language"))
        batch_op.drop_column("interpreter")
        batch_op.drop_column("preferred_language")
