"""candles, signals, trader bindings, market context

Revision ID: 0002
Revises: 0001
"""

from alembic import op
from robson_signal.adapters.tables import bindings, candles, market_context, signals

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = (candles, signals, bindings, market_context)


def upgrade() -> None:
    for table in TABLES:
        table.create(op.get_bind())


def downgrade() -> None:
    for table in reversed(TABLES):
        table.drop(op.get_bind())
