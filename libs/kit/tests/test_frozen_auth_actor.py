"""The frozen ``auth_actor`` step states what ``robson_kit.auth.audit`` builds today: when the
audit SQL changes, this fails, and the change needs a new frozen step and a new migration in
every service (an old migration must keep creating what it created)."""

from __future__ import annotations

from robson_kit.auth.audit import actor_default, drop_updated_by_sql, updated_by_trigger_sql
from robson_kit.migrations_frozen import add_auth_actor_v1, drop_auth_actor_v1


class RecordingOp:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def execute(self, statement: str) -> None:
        self.statements.append(statement)


def test_the_frozen_auth_actor_step_is_the_audit_sql_it_was_written_from() -> None:
    up, down = RecordingOp(), RecordingOp()
    add_auth_actor_v1(up, ("modifications",), ("traders", "accounts"))
    drop_auth_actor_v1(down, ("modifications",), ("traders", "accounts"))
    assert up.statements == [
        "ALTER TABLE modifications ADD COLUMN IF NOT EXISTS actor text",
        f"ALTER TABLE modifications ALTER COLUMN actor SET DEFAULT {actor_default()}",
        *updated_by_trigger_sql("traders"), *updated_by_trigger_sql("accounts")]
    assert down.statements == [*drop_updated_by_sql("traders"), *drop_updated_by_sql("accounts"),
                               "ALTER TABLE modifications DROP COLUMN IF EXISTS actor"]
