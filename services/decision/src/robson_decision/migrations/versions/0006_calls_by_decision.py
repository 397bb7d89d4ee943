"""decision: model_calls indexed by decision, to count the prompts a decision paid for

Revision ID: 0006_calls_by_decision
Revises: 0005_llm_usage
"""

from alembic import op

revision = "0006_calls_by_decision"
down_revision = "0005_llm_usage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # 0002 creates the current metadata's tables, this index included, on a new schema.
    op.create_index("ix_model_calls_decision_id", "model_calls", ["decision_id"],
                    if_not_exists=True)


def downgrade() -> None:
    op.drop_index("ix_model_calls_decision_id", "model_calls", if_exists=True)
