"""A local fake Binance spot exchange for tests (and the platform e2e): real HTTP + WebSocket."""

from robson_execution.testing.engine import FakeEngine
from robson_execution.testing.server import FakeBinance, Fault

__all__ = ["FakeBinance", "FakeEngine", "Fault"]
