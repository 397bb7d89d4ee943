"""venue_rules: the newest SymbolRules told per (venue, symbol)

Revision ID: 0005_venue_rules
Revises: 0004_auth_actor
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005_venue_rules"
down_revision = "0004_auth_actor"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "venue_rules",
        sa.Column("venue", sa.String(10), primary_key=True),
        sa.Column("symbol", sa.String(20), primary_key=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("told", JSONB, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("venue_rules")
