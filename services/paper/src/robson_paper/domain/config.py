"""Engine configuration: fees, slippage, filters."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from robson_paper.domain.slippage import FixedBps, SlippageModel


@dataclass(frozen=True)
class EngineConfig:
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    slippage: SlippageModel = field(default_factory=FixedBps)
    strict_filters: bool = False
    """True: reject prices/quantities off the tick/step grid; False: round them (documented)."""
    limit_through_ticks: int = 0
    """Ticks the price must trade *through* a limit before it fills (0 = touch fills)."""
    market_buffer: Decimal = Decimal("0.02")
    """Extra funds held for market-like orders whose fill price is not known in advance."""
    volume_limited: bool = True
    """Resting limits fill at most the traded quantity of a tick that carries one."""
    default_balances: tuple[tuple[str, Decimal], ...] = (("USDT", Decimal(10000)),)
    default_allow_short: bool = False
    """Whether an account created by its first order command may sell short."""

    @property
    def hold_fee(self) -> Decimal:
        return max(self.maker_fee, self.taker_fee)
