"""execution tables: accounts, orders, actions, fills, reconciliations

Revision ID: 0002
Revises: 0001
"""

from alembic import op
from robson_execution.adapters.tables import metadata

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TABLES = ("accounts", "orders", "actions", "fills", "reconciliations")


def upgrade() -> None:
    bind = op.get_bind()
    for name in _TABLES:
        metadata.tables[name].create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for name in reversed(_TABLES):
        metadata.tables[name].drop(bind)
