"""Test helpers: real NATS + Postgres (embedded unless NATS_URL / DATABASE_URL are set),
stream readers and service processes you can SIGKILL."""

from robson_kit.testing.auth import ADMIN_HEADERS, auth_headers, token
from robson_kit.testing.helpers import (
    asgi_client,
    drop_schema,
    log_queries,
    open_batch_transactions,
    read_stream,
    reset_streams,
    service_starter,
    unique_schema,
    wait_until,
)
from robson_kit.testing.procs import ServiceProcess

__all__ = ["ADMIN_HEADERS", "ServiceProcess", "asgi_client", "auth_headers", "drop_schema", "log_queries", "open_batch_transactions", "read_stream", "reset_streams", "service_starter", "token", "unique_schema", "wait_until"]
