"""inbox and outbox

Revision ID: 0001
Revises:
"""

from alembic import op
from robson_kit.migrations_frozen import create_messaging_v1, drop_messaging_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_v1(op)


def downgrade() -> None:
    drop_messaging_v1(op)
