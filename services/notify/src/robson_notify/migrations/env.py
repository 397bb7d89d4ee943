from robson_kit.migrations import run_env
from robson_notify.adapters.tables import metadata

run_env(metadata)
