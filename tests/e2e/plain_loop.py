"""The EMA-cross rule set as a small plain-Python loop, written from the rules' text only (no
Robson code): the independent reference `robson backtest` is checked against.

The rules:
* EMA(n) of closes: the mean of the first n closes, then ema += 2/(n+1) × (close − ema).
* A cross at candle i: fast − slow changes side between i−1 and i (≤ 0 counts as below).
  Up → LONG signal, down → SHORT signal, both at candle i's close.
* LONG signal while flat: buy at the next candle's open, quantity = ⌊cash × notional share /
  signal close⌋ to the lot step; stop and take-profit at fixed percents of the signal close,
  rounded to the price tick (half to even). SHORT signals never open anything (spot).
* While long, each candle's path is open → nearer extreme → farther extreme → close (low first
  on a tie). At the open the price gaps: a stop at or above it fills at the open. Between path
  points the price moves continuously: a stop crossed fills at the stop, a take-profit
  touched fills at the take-profit. The entry candle's own path counts from its open.
* SHORT signal while long: sell at the next candle's open (AI_CLOSE).
* Every fill pays the fee rate on its notional; P&L = (exit − entry) × qty − both fees.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal


@dataclass(frozen=True)
class Candle:
    open_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal


@dataclass(frozen=True)
class Rules:
    fast: int
    slow: int
    stop_pct: Decimal
    take_profit_pct: Decimal
    fee: Decimal
    notional_share: Decimal
    cash: Decimal
    tick: Decimal = Decimal("0.01")
    step: Decimal = Decimal("0.00001")


@dataclass(frozen=True)
class Trade:
    entry_index: int
    exit_index: int
    entry_price: Decimal
    exit_price: Decimal
    quantity: Decimal
    exit_reason: str
    pnl: Decimal


def ema_series(closes: list[float], n: int) -> list[float | None]:
    out: list[float | None] = []
    value: float | None = None
    alpha = 2.0 / (n + 1)
    for i, x in enumerate(closes):
        if value is None:
            if i == n - 1:
                value = sum(closes[:n]) / n
        else:
            value = value + alpha * (x - value)
        out.append(value)
    return out


def crosses(candles: list[Candle], fast: int, slow: int) -> dict[int, str]:
    closes = [float(c.close) for c in candles]
    f, s = ema_series(closes, fast), ema_series(closes, slow)
    out: dict[int, str] = {}
    prev: float | None = None
    for i in range(len(candles)):
        if f[i] is None or s[i] is None:
            continue
        diff = f[i] - s[i]  # type: ignore[operator]
        if prev is not None and (prev <= 0) != (diff <= 0):
            out[i] = "LONG" if diff > 0 else "SHORT"
        prev = diff
    return out


def level(close: Decimal, factor: Decimal, tick: Decimal) -> Decimal:
    decimals = -int(close.normalize().as_tuple().exponent)
    places = Decimal(1).scaleb(-min(8, max(2, decimals + 2)))
    return (close * factor).quantize(places, ROUND_HALF_EVEN).quantize(tick, ROUND_HALF_EVEN)


def path(c: Candle) -> list[Decimal]:
    first, second = (c.high, c.low) if (c.high - c.open) < (c.open - c.low) else (c.low, c.high)
    return [c.open, first, second, c.close]


def run(candles: list[Candle], rules: Rules) -> list[Trade]:
    signals = crosses(candles, rules.fast, rules.slow)
    cash = rules.cash
    trades: list[Trade] = []
    pending: tuple[str, int] | None = None  # ("entry", signal index) or ("exit", signal index)
    held: dict[str, object] | None = None
    for i, c in enumerate(candles):
        if pending is not None and pending[0] == "exit" and held is not None:
            trades.append(_close(held, i, c.open, "AI_CLOSE", rules))
            cash += trades[-1].pnl
            held, pending = None, None
        if pending is not None and pending[0] == "entry":
            sig = candles[pending[1]].close
            qty = (cash * rules.notional_share / sig / rules.step).to_integral_value(ROUND_DOWN) * rules.step
            held = {"index": i, "price": c.open, "qty": qty,
                    "stop": level(sig, 1 - rules.stop_pct / 100, rules.tick),
                    "tp": level(sig, 1 + rules.take_profit_pct / 100, rules.tick)}
            pending = None
        if held is not None:
            points = path(c)
            prev: Decimal | None = None if held["index"] != i else points[0]
            for k, price in enumerate(points):
                if held["index"] == i and k == 0:
                    continue  # the entry fills at this open; its exits follow
                stop, tp = held["stop"], held["tp"]
                hit: tuple[Decimal, str] | None = None
                if price <= stop:  # type: ignore[operator]
                    hit = (stop if prev is not None else price, "STOP_LOSS")  # type: ignore[assignment]
                elif price >= tp:  # type: ignore[operator]
                    hit = (tp, "TAKE_PROFIT")  # type: ignore[assignment]
                if hit is not None:
                    trades.append(_close(held, i, hit[0], hit[1], rules))
                    cash += trades[-1].pnl
                    held = None
                    break
                prev = price
        signal = signals.get(i)
        if signal == "LONG" and held is None and pending is None:
            pending = ("entry", i)
        elif signal == "SHORT" and held is not None and pending is None:
            pending = ("exit", i)
    return trades


def pnl(entry: Decimal, exit_: Decimal, qty: Decimal, fee: Decimal) -> Decimal:
    return (exit_ - entry) * qty - (entry * qty + exit_ * qty) * fee


def _close(held: dict[str, object], i: int, price: Decimal, reason: str, rules: Rules) -> Trade:
    entry, qty = held["price"], held["qty"]
    return Trade(held["index"], i, entry, price, qty, reason,  # type: ignore[arg-type]
                 pnl(entry, price, qty, rules.fee))  # type: ignore[arg-type]


# The same rules as a robson.yaml (what `robson backtest` runs in the parity test and the
# benchmark): spot, one position, sizing by a 20% notional share, no other gate limits (no loss
# limits, kill switch or cooldown: the plain loop has none).
EMA_CONFIG = """
accounts:
  - id: main
    starting_balances: {USDT: 10000}
    risk:
      sizing: {max_position_notional: 0.2}
      positions: {max_per_trader: 1, max_per_account: 10, min_confidence: 0}
      frequency: {per_minute: null, per_hour: null, per_day: null}
      market: {max_abs_funding_rate: null, max_data_age_seconds: null}
      stopout_cooldown: {enabled: false}
      concurrency: {enabled: false}
      monthly_loss: {enabled: false}
      daily_loss: {enabled: false}
      drawdown: {enabled: false}
traders:
  - id: ema
    account: main
    strategy: ema_cross
    params: {fast: 9, slow: 21}
    symbols: [BTCUSDT]
    timeframes: [5m]
    decision:
      min_strength: 0
      min_confidence: 0
      stop_mode: PERCENT
      stop_pct: 1
      tp_pcts: [1.5]
      tp_fractions: [1]
      exit_on_opposite_strength: 0
      breakeven_at_r: null
      trail_at_r: null
venue: {maker_fee: 0.001, taker_fee: 0.001, slippage: none}
"""
EMA_RULES = Rules(fast=9, slow=21, stop_pct=Decimal(1), take_profit_pct=Decimal("1.5"),
                  fee=Decimal("0.001"), notional_share=Decimal("0.2"),
                  cash=Decimal(10000))
