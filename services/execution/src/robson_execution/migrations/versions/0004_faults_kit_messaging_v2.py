"""kit messaging v2: outbox_dead (unpublishable events moved aside)

Revision ID: 0004_faults_kit_messaging_v2
Revises: 0003
"""

from alembic import op
from robson_kit.migrations_frozen import create_messaging_v2, drop_messaging_v2

revision = "0004_faults_kit_messaging_v2"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_v2(op)


def downgrade() -> None:
    drop_messaging_v2(op)
