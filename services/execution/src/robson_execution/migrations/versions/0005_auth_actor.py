"""auth: the authenticated subject in audit rows (accounts)

Revision ID: 0005_auth_actor
Revises: 0004_faults_kit_messaging_v2
"""

from alembic import op
from robson_kit.auth.audit import actor_default, drop_updated_by_sql, updated_by_trigger_sql

revision = "0005_auth_actor"
down_revision = "0004_faults_kit_messaging_v2"
branch_labels = None
depends_on = None

ACTOR_TABLES: tuple[str, ...] = ()
UPDATED_BY_TABLES = ('accounts',)


def upgrade() -> None:
    for table in ACTOR_TABLES:
        op.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS actor text")
        op.execute(f"ALTER TABLE {table} ALTER COLUMN actor SET DEFAULT {actor_default()}")
    for table in UPDATED_BY_TABLES:
        for statement in updated_by_trigger_sql(table):
            op.execute(statement)


def downgrade() -> None:
    for table in UPDATED_BY_TABLES:
        for statement in drop_updated_by_sql(table):
            op.execute(statement)
    for table in ACTOR_TABLES:
        op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS actor")
