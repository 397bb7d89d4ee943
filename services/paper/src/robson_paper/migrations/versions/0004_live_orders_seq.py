"""orders: partial index on seq of the live orders (GET /live-orders pages through them)

Revision ID: 0004_live_orders_seq
Revises: 0003_faults_kit_messaging_v2
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_live_orders_seq"
down_revision = "0003_faults_kit_messaging_v2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_orders_live_seq", "orders", ["seq"], postgresql_where=sa.text("live"))


def downgrade() -> None:
    op.drop_index("ix_orders_live_seq", table_name="orders")
