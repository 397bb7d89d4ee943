"""Structured JSON logs with the correlation id of the message being handled."""

from __future__ import annotations

import logging
import sys

import structlog

bind = structlog.contextvars.bind_contextvars
unbind = structlog.contextvars.unbind_contextvars
clear = structlog.contextvars.clear_contextvars
_min_level = logging.NOTSET
"""The level ``configure_logging`` filters below (none until it is called, as structlog's
default keeps everything)."""


def configure_logging(service: str, level: str = "INFO", json: bool = True) -> None:
    global _min_level
    _min_level = logging.getLevelName(level.upper())
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_min_level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
    for noisy in ("nats", "uvicorn.access", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


def enabled_for(level: int) -> bool:
    """Whether a log call at ``level`` is kept: ``log.is_enabled_for`` without its cost. The
    loggers are lazy proxies (``cache_logger_on_first_use`` stays off, so a reconfiguration,
    such as a test's ``capture_logs``, reaches them) that bind a new logger on every method
    lookup; a check made for every market message or trade event need not pay that."""
    return level >= _min_level
