"""The pure matching core: no I/O, Decimal money, event time only."""

from robson_paper.domain.config import EngineConfig, MarketFill
from robson_paper.domain.exchange import Exchange, Links, plan_of

__all__ = ["EngineConfig", "Exchange", "Links", "MarketFill", "plan_of"]
