from robson_execution.adapters.tables import metadata
from robson_kit.migrations import run_env

run_env(metadata)
