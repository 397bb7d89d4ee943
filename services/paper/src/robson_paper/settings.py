"""Settings of paper (environment ``ROBSON_PAPER_*``, plus shared ``NATS_URL``/``DATABASE_URL``)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from pydantic_settings import SettingsConfigDict
from robson_kit.settings import ServiceSettings

from robson_paper.domain import EngineConfig, MarketFill
from robson_paper.domain.rules import DEFAULT_RULES, SymbolRules, rules
from robson_paper.domain.slippage import make_model


class PaperSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROBSON_PAPER_", extra="ignore",
                                      populate_by_name=True)

    service_name: str = "paper"
    db_schema: str = "paper"
    http_port: int = 8106
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    slippage_model: str = "fixed"
    """fixed | volatility (5–10 bps scaled by the last candle's range)."""
    slippage_bps: Decimal = Decimal(5)
    strict_filters: bool = False
    limit_through_ticks: int = 0
    volume_limited: bool = True
    default_quote_balance: Decimal = Decimal(10000)
    default_allow_short: bool = False
    """allow_short of accounts auto-created on their first order command."""
    symbols_json: str = ""
    """Extra or overriding symbol rules: {"PEPEUSDT": {"tick": "0.00000001", "step": "1",
    "min_notional": "5"}}."""
    turn_timeout_seconds: float = 10.0
    market_write_seconds: float = 1.0
    """A tick that changed nothing but the last price is written at most once per this many
    seconds of event time per symbol (fills, orders and balances are written with every
    message); after a crash the next tick brings the price back."""
    market_fill: MarketFill = MarketFill.NEXT_PRICE
    """next_price (fill a market order at the first price after accepting it: no look-ahead in
    backtests) | last_price (fill at once at the last price ± slippage when it is fresh)."""
    market_fill_max_age_seconds: float = 5.0
    """last_price: a last price older than this (event time) is stale; the order waits for the
    next one."""

    def engine_config(self) -> EngineConfig:
        return EngineConfig(
            maker_fee=self.maker_fee, taker_fee=self.taker_fee,
            slippage=make_model(self.slippage_model, self.slippage_bps),
            strict_filters=self.strict_filters, limit_through_ticks=self.limit_through_ticks,
            volume_limited=self.volume_limited,
            default_balances=(("USDT", self.default_quote_balance),),
            default_allow_short=self.default_allow_short, market_fill=self.market_fill,
            market_fill_max_age=timedelta(seconds=self.market_fill_max_age_seconds),
        )

    def symbol_rules(self) -> dict[str, SymbolRules]:
        table = dict(DEFAULT_RULES)
        for symbol, r in (json.loads(self.symbols_json) if self.symbols_json else {}).items():
            table[symbol] = rules(symbol, r["tick"], r["step"], r.get("min_notional", "5"),
                                  r.get("min_qty"))
        return table
