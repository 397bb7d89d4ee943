"""paper tables: accounts, orders, fills, market position per symbol

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("data", JSONB, nullable=False),
    )
    op.create_table(
        "orders",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("order_id", sa.String(36), primary_key=True),
        sa.Column("symbol", sa.String(20), nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("live", sa.Boolean, nullable=False, index=True),
        sa.Column("list_id", sa.String(36)),
        sa.Column("position_id", sa.String(64)),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
        sa.Column("data", JSONB, nullable=False),
    )
    op.create_table(
        "fills",
        sa.Column("fill_id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False, index=True),
        sa.Column("order_id", sa.String(36), nullable=False),
        sa.Column("symbol", sa.String(20), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("price", sa.Numeric, nullable=False),
        sa.Column("quantity", sa.Numeric, nullable=False),
        sa.Column("fee", sa.Numeric, nullable=False),
        sa.Column("fee_asset", sa.String(16), nullable=False),
        sa.Column("liquidity", sa.String(8), nullable=False),
        sa.Column("filled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fill_no", sa.Integer, nullable=False),
    )
    op.create_table(
        "market_state",
        sa.Column("symbol", sa.String(20), primary_key=True),
        sa.Column("last_price", sa.Numeric),
        sa.Column("last_time", sa.DateTime(timezone=True)),
        sa.Column("recent_range", sa.Numeric),
    )


def downgrade() -> None:
    for name in ("market_state", "fills", "orders", "accounts"):
        op.drop_table(name)
