"""auth: the authenticated subject in audit rows (trader_settings)

Revision ID: 0004_auth_actor
Revises: 0003_faults_kit_messaging_v2
"""

from alembic import op
from robson_kit.migrations_frozen import add_auth_actor_v1, drop_auth_actor_v1

revision = "0004_auth_actor"
down_revision = "0003_faults_kit_messaging_v2"
branch_labels = None
depends_on = None

ACTOR_TABLES: tuple[str, ...] = ()
UPDATED_BY_TABLES = ('trader_settings',)


def upgrade() -> None:
    add_auth_actor_v1(op, ACTOR_TABLES, UPDATED_BY_TABLES)


def downgrade() -> None:
    drop_auth_actor_v1(op, ACTOR_TABLES, UPDATED_BY_TABLES)
