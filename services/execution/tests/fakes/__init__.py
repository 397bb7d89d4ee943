"""A local fake Binance spot exchange for tests (and the platform e2e): real HTTP + WebSocket."""

from .engine import FakeEngine
from .server import FakeBinance, Fault

__all__ = ["FakeBinance", "FakeEngine", "Fault"]
