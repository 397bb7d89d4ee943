from robson_kit.migrations import run_env
from sampleapp.app import metadata

run_env(metadata)
