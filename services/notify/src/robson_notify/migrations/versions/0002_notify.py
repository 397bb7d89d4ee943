"""notify: config, deliveries, daily figures, decision reasons

Revision ID: 0002
Revises: 0001
"""

from alembic import op
from robson_notify.adapters.tables import metadata

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("config", "deliveries", "open_positions", "account_days", "decision_reasons")


def upgrade() -> None:
    bind = op.get_bind()
    metadata.create_all(bind, tables=[metadata.tables[t] for t in TABLES])


def downgrade() -> None:
    bind = op.get_bind()
    metadata.drop_all(bind, tables=[metadata.tables[t] for t in reversed(TABLES)])
