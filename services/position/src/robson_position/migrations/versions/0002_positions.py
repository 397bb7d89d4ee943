"""positions, fills, modification audit, traders, accounts

Revision ID: 0002
Revises: 0001
"""

from alembic import op
from robson_position.adapters import tables
from sqlalchemy import MetaData

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TABLES = (tables.positions, tables.fills, tables.modifications, tables.traders, tables.accounts)


def upgrade() -> None:
    target = MetaData()
    for table in _TABLES:
        table.to_metadata(target).create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    for table in reversed(_TABLES):
        op.drop_table(table.name)
