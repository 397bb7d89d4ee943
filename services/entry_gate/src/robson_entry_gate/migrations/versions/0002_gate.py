"""entry_gate projections, policies and the append-only decision log

Revision ID: 0002
Revises: 0001
"""

from alembic import op
from robson_entry_gate.adapters.tables import (
    account_state,
    admin_actions,
    gate_decisions,
    market_state,
    policies,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY = (
    """CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP;
    END;
    $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER gate_decisions_append_only BEFORE UPDATE OR DELETE ON gate_decisions
    FOR EACH ROW EXECUTE FUNCTION refuse_change()""",
    """CREATE TRIGGER admin_actions_append_only BEFORE UPDATE OR DELETE ON admin_actions
    FOR EACH ROW EXECUTE FUNCTION refuse_change()""",
)


def upgrade() -> None:
    bind = op.get_bind()
    for table in (account_state, market_state, policies, gate_decisions, admin_actions):
        table.create(bind)
    for statement in APPEND_ONLY:
        op.execute(statement)


def downgrade() -> None:
    for name in ("admin_actions", "gate_decisions", "policies", "market_state", "account_state"):
        op.drop_table(name)
    op.execute("DROP FUNCTION IF EXISTS refuse_change()")
