from robson_dashboard.adapters.tables import metadata
from robson_kit.migrations import run_env

run_env(metadata)
