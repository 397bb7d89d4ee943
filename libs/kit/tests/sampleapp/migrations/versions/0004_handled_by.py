"""signal_counts.handled_by: which process counted a signal

Revision ID: 0004_handled_by
Revises: 0003_faults_kit_messaging_v2
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_handled_by"
down_revision = "0003_faults_kit_messaging_v2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("signal_counts", sa.Column("handled_by", sa.Integer))


def downgrade() -> None:
    op.drop_column("signal_counts", "handled_by")
