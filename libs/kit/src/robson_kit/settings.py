"""Base settings every service extends with its own prefix and defaults."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


class ServiceSettings(BaseSettings):
    """``NATS_URL`` and ``DATABASE_URL`` are shared by every service; everything else is
    prefixed per service, e.g. ``ROBSON_PAPER_HTTP_PORT``."""

    model_config = SettingsConfigDict(env_prefix="ROBSON_", extra="ignore", populate_by_name=True)

    service_name: str = "robson"
    nats_url: str = Field(DEFAULT_NATS_URL, validation_alias=AliasChoices("NATS_URL", "nats_url"))
    database_url: str = Field(
        DEFAULT_DATABASE_URL, validation_alias=AliasChoices("DATABASE_URL", "database_url")
    )
    db_schema: str = "robson"
    http_host: str = "127.0.0.1"
    http_port: int = 8100
    log_level: str = "INFO"
    log_json: bool = True
    run_migrations: bool = True
    """Run ``alembic upgrade head`` at start-up (disable when migrations run as a separate step)."""
    consumer_batch: int = Field(64, ge=1)
    ack_wait_seconds: float = Field(30.0, gt=0)
    """Redelivery delay of an unacked message (a consumer that died mid-message)."""
    max_deliver: int = Field(8, ge=1)
    """Failures of a message (its handler failing on the message's own merits) before it is
    dead-lettered. Outages (database or NATS down) do not count."""
    max_deliver_margin: int = 32
    """The server-side limit is ``max_deliver + max_deliver_margin`` deliveries: it bounds a
    message that crashes the process each time (its last delivery is dead-lettered unhandled)."""
    outbox_poll_seconds: float = Field(2.0, gt=0)
    """How often the outbox relay sweeps for events the fast path left unpublished (a failed
    publish makes it sweep at once). Must be positive: 0 or less spins the relay at 100% of a
    core while idle."""
    paced_fetch_seconds: float = Field(0.1, ge=0, le=1)
    """Market-data consumers (``ConsumerSpec.paced``) fetch at most this often while no
    lockstep replay synchronizes on them: ticks wait up to this long and arrive together (0:
    each as it comes)."""
    db_pool_size: int = Field(5, ge=1)
    lock_check_seconds: float = Field(2.0, ge=0.1, le=30)
    """How often the service checks the connection holding its service lock (``robson_kit.
    service_lock``; the check must answer within twice this). The server ends that session
    after 5× this without a check, freeing the lock for another instance: a holder cut off from
    the database has stopped consuming and its loops by then. A transaction of the service left
    idle 2× this (between two statements) is aborted by the server, so that a frozen holder's
    transaction is gone before the lock passes (``robson_kit.service_lock``)."""
    lock_database_url: str = ""
    """Where the service lock's own connection goes (``ROBSON_<SVC>_LOCK_DATABASE_URL``); empty:
    ``database_url``. The lock is a session-level advisory lock, so this must reach PostgreSQL
    directly or through a session-mode pooler: behind a transaction-mode pooler, give the
    pooled ``DATABASE_URL`` to the engine and a direct URL here."""
    lock_retry_max_seconds: float = Field(5.0, ge=0.5, le=60)
    """Longest pause between two tries for the service lock while another instance holds it
    (or the database is down): how soon a waiting instance takes over once the lock is free."""
    auth_public_key_file: str = Field(
        "", validation_alias=AliasChoices("ROBSON_AUTH_PUBLIC_KEY_FILE", "auth_public_key_file"))
    """PEM file of the platform's Ed25519 public key (tokens are verified with it)."""
    auth_public_key: str = Field(
        "", validation_alias=AliasChoices("ROBSON_AUTH_PUBLIC_KEY", "auth_public_key"))
    """The same key inline (PEM text); wins over the file. With neither, every route but
    /healthz, /readyz and /metrics answers 401."""
    auth_write_rate_per_minute: int = Field(
        100, ge=1, validation_alias=AliasChoices("ROBSON_AUTH_WRITE_RATE_PER_MINUTE",
                                                 "auth_write_rate_per_minute"))
    """Write requests (anything but GET) one token may make per minute; beyond: 429."""
    service_token: SecretStr = SecretStr("")
    """This service's own token for calling peers' APIs (``ROBSON_<SVC>_SERVICE_TOKEN``)."""
