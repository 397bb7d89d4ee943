"""``logs.enabled_for`` answers as the configured loggers' own ``is_enabled_for`` does."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog
from robson_kit import logs


@pytest.fixture
def restored_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    saved = structlog.get_config()
    monkeypatch.setattr(logs, "_min_level", logs._min_level)
    yield
    structlog.configure(**saved)


@pytest.mark.parametrize("configured", ["DEBUG", "INFO", "WARNING", "ERROR"])
def test_enabled_for_matches_a_configured_loggers_filter(configured: str,
                                                         restored_logging: None) -> None:
    logs.configure_logging("test", level=configured, json=False)
    log = logs.get_logger("test")
    for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR):
        assert logs.enabled_for(level) == log.is_enabled_for(level)
    assert logs.enabled_for(logging.INFO) == (configured in ("DEBUG", "INFO"))
