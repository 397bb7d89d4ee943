"""Fixtures: a replay file, a `robson up` per test, and one running platform per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from robson_kit.embedded import Infrastructure

from .harness import RobsonUp, kline_csv


@pytest.fixture(scope="session")
def replay_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("klines") / "BTCUSDT-5m-test.csv"
    path.write_text(kline_csv())
    return path


@pytest.fixture
def robson_up(infra: Infrastructure, tmp_path: Path) -> Iterator[RobsonUp]:
    up = RobsonUp(infra, tmp_path)
    try:
        yield up
    finally:
        up.close()


@pytest.fixture(scope="module")
def running_replay(infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory,
                   replay_file: Path) -> Iterator[RobsonUp]:
    """A platform that replayed the series, reported, and keeps running for the module."""
    up = RobsonUp(infra, tmp_path_factory.mktemp("platform"))
    try:
        up.start("--feed", "replay", "--data", str(replay_file))
        up.wait_replay_reported()
        yield up
    finally:
        up.close()
