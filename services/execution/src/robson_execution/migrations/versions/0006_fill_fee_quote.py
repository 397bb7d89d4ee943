"""fills: a commission in a third asset (BNB) valued in the quote asset

Revision ID: 0006_fill_fee_quote
Revises: 0005_auth_actor
"""

from alembic import op

revision = "0006_fill_fee_quote"
down_revision = "0005_auth_actor"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # 0002 builds its tables from the current metadata, so a fresh database already has it.
    op.execute("ALTER TABLE fills ADD COLUMN IF NOT EXISTS fee_quote NUMERIC(38, 18)")


def downgrade() -> None:
    op.drop_column("fills", "fee_quote")
