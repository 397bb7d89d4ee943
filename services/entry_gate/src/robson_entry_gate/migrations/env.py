from robson_kit.migrations import run_env

from robson_entry_gate.adapters.tables import metadata

run_env(metadata)
