"""Prometheus metrics shared by every service."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter(
    "robson_messages_total", "Messages handled by outcome", ["service", "consumer", "outcome"]
)
HANDLE_SECONDS = Histogram(
    "robson_message_handle_seconds",
    "Time to handle one message including its transaction",
    ["service", "consumer"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
OUTBOX_PUBLISHED = Counter("robson_outbox_published_total", "Events published by the relay", ["service"])
OUTBOX_LAG = Gauge("robson_outbox_pending", "Committed events not yet published", ["service"])
CONSUMER_PAUSED = Gauge(
    "robson_consumer_paused", "1 while a consumer waits for its database or NATS to come back",
    ["service", "consumer"],
)
OUTBOX_DEAD = Counter(
    "robson_outbox_dead_total", "Outbox events that could not be published and were moved aside",
    ["service", "reason_code"],
)
SERVICE_LOCK_HELD = Gauge(
    "robson_service_lock_held",
    "1 while this process holds its service's lock (it consumes and runs its loops only then)",
    ["service"],
)
