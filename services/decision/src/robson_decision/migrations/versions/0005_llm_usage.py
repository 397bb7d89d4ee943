"""decision: llm_usage, the model calls of position reviews that stored no decision

Revision ID: 0005_llm_usage
Revises: 0004_auth_actor
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_llm_usage"
down_revision = "0004_auth_actor"
branch_labels = None
depends_on = None

# Frozen here: 0002 creates the tables of the current metadata (this one too, on a new
# schema), so both create only what is missing.
_usage = sa.Table(
    "llm_usage",
    sa.MetaData(),
    sa.Column("decision_id", sa.String(64), primary_key=True),
    sa.Column("trader_id", sa.String(64), nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("model_calls", sa.Integer, nullable=False),
    sa.Index("llm_usage_by_trader", "trader_id", "occurred_at"),
)


def upgrade() -> None:
    _usage.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    _usage.drop(op.get_bind(), checkfirst=True)
