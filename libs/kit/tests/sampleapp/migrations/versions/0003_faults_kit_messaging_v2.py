"""kit messaging v2: outbox_dead (unpublishable events moved aside)

Revision ID: 0003_faults_kit_messaging_v2
Revises: 0002
"""

from alembic import op
from robson_kit.migrations_frozen import create_messaging_v2, drop_messaging_v2

revision = "0003_faults_kit_messaging_v2"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_v2(op)


def downgrade() -> None:
    drop_messaging_v2(op)
