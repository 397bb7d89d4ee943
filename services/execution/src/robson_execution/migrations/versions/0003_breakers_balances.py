"""breakers (circuit-breaker state survives a restart); reconciliations.balances_at (the
exchange time of the balance snapshot, the baseline of the next balance comparison)

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
        "breakers",
        sa.Column("symbol", sa.String(20), primary_key=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    # 0002 builds its tables from the current metadata, so a fresh database already has it.
    op.execute("ALTER TABLE reconciliations ADD COLUMN IF NOT EXISTS balances_at TIMESTAMPTZ")


def downgrade() -> None:
    op.drop_column("reconciliations", "balances_at")
    op.drop_table("breakers")
