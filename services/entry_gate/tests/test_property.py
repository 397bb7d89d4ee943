"""Property: the monthly bound as a theorem. Whatever the prices, fills and exits, the month's
realized loss never exceeds the limit times the month-start capital, plus the slippage of the
month's own trades (paper's bound: 5 bps a fill).

The month is judged independently of the gate: its capital is the equity at the month's start
less the open gains then (open gains never unlock risk); a position carried in at a loss counts
from its mark at the start (its earlier loss is in the capital already), one carried in at a gain
from its entry. Prices move, stops fill when crossed (at the stop less slippage), entries fill
partially and at a slipped price, and months roll with positions open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, event, example, given, settings, target
from hypothesis import strategies as st
from robson_contracts import ExitReason
from robson_entry_gate.domain.gate import evaluate
from robson_entry_gate.domain.policy import EffectivePolicy
from robson_entry_gate.domain.projection import (
    on_closed,
    on_opened,
    on_snapshot,
    record_verdict,
    roll,
)
from robson_entry_gate.domain.state import AccountState, MarketSnapshot

from .factories import closed, decision, opened, snapshot

D = Decimal
CAPITAL = D("10000")
LIMIT = D("0.04")
SLIP = D("0.0005")
"""Paper's fixed slippage bound: 5 bps a fill."""
SYMBOLS = ("BTCUSDT", "ETHUSDT")
START = datetime(2024, 5, 20, 10, 0, tzinfo=UTC)
_STATS: list[tuple[Decimal, bool]] = []


@dataclass
class Held:
    symbol: str
    qty: Decimal
    entry: Decimal
    stop: Decimal
    base: Decimal
    """The month's baseline: entry, or the mark at the month's start if carried at a loss."""
    slip: Decimal
    entry_slip: Decimal


@dataclass
class Month:
    capital: Decimal
    realized: Decimal = Decimal(0)
    allowance: Decimal = Decimal(0)
    carried: bool = False


moves = st.tuples(st.just("price"), st.integers(0, 1), st.decimals("-9", "6", places=1))
stop_pcts = st.one_of(st.decimals("0.5", "8", places=1), st.sampled_from([D(5), D(6), D(8)]))
"""Stops 5% or wider make the 1% risk bind (narrower ones hit the 20% notional cap first)."""
opens = st.tuples(st.just("open"), st.integers(0, 1), stop_pcts,
                  st.sampled_from([D(1), D(1), D("0.5"), D("0.3")]), st.integers(0, 5))
closes = st.tuples(st.just("close"), st.integers(0, 30))
months = st.tuples(st.just("month"))
ops = st.lists(st.one_of(moves, moves, opens, opens, opens, closes, months), min_size=1,
               max_size=60)

LOSING_CARRY = [("open", 0, D("5"), D(1), 5), ("open", 1, D("5"), D(1), 5),
                ("price", 0, D("3")), ("price", 1, D("-2")), ("month",),
                ("open", 0, D("5"), D(1), 5), ("open", 1, D("5"), D(1), 5),
                ("price", 0, D("-9")), ("price", 1, D("-9")),
                ("open", 0, D("5"), D(1), 5), ("open", 1, D("5"), D(1), 5),
                ("open", 0, D("6"), D(1), 5), ("open", 1, D("6"), D(1), 5),
                ("price", 0, D("-9")), ("price", 1, D("-9"))]
"""Carried winners, then losers on both symbols: the loss region with carried positions."""
GAINS_THEN_CARRIED_RISK = [("price", 0, D("0.0"))] * 9 + [
    ("open", 0, D("0.5"), D(1), 0), ("open", 0, D("0.5"), D(1), 0), ("open", 0, D("4.6"), D(1), 0),
    ("price", 0, D("5.0")), ("open", 0, D("5.0"), D(1), 0), ("close", 0),
    ("open", 0, D("4.7"), D(1), 0), ("open", 0, D("5.0"), D(1), 0), ("month",)]
"""A month's realized gain let the open risk grow by as much; carried into the next month,
whose capital takes the gain in only at the limit's share, that risk was over the new limit
(hypothesis found it: 404.82 lost against 404.00)."""


class Sim:
    def __init__(self) -> None:
        self.policy = EffectivePolicy()
        self.state = AccountState(account_id="acc1")
        self.prices = {s: D(100) for s in SYMBOLS}
        self.held: dict[str, Held] = {}
        self.realized_total = D(0)
        self.at = START
        self.market_now()
        roll(self.state, self.market, self.policy.account, self.at)
        on_snapshot(self.state, snapshot(str(CAPITAL), self.at), self.market, self.policy.account)
        self.month = Month(CAPITAL)
        self.months = [self.month]

    def market_now(self) -> None:
        self.market = {s: MarketSnapshot(symbol=s, last_price=p, price_at=self.at)
                       for s, p in self.prices.items()}

    @property
    def equity(self) -> Decimal:
        return CAPITAL + self.realized_total + sum(
            ((self.prices[h.symbol] - h.entry) * h.qty for h in self.held.values()), D(0))

    def step(self, minutes: int = 16) -> None:
        self.at += timedelta(minutes=minutes)  # past the loss cooldown
        self.market_now()
        roll(self.state, self.market, self.policy.account, self.at)

    def next_month(self) -> None:
        first = (self.at.replace(day=1) + timedelta(days=32)).replace(day=1, hour=0, minute=5)
        self.at = first - timedelta(minutes=16)
        gains = D(0)
        carried = bool(self.held)
        for h in self.held.values():
            mark = self.prices[h.symbol]
            pnl = (mark - h.base) * h.qty
            if pnl < 0:
                h.base = mark
            else:
                gains += pnl
        self.month = Month(self.equity - gains, carried=carried)
        self.months.append(self.month)
        self.step()

    def open(self, n: int, symbol: str, stop_pct: Decimal, fill: Decimal, slip_steps: int) -> None:
        price = self.prices[symbol]
        stop = (price * (1 - stop_pct / 100)).quantize(D("0.0001"))
        d = decision(n, at=self.at, trader=f"t{n % 7}", symbol=symbol, entry=str(price),
                     stop=str(stop))
        verdict = evaluate(d, self.state, self.market, self.policy, self.at)
        if not verdict.allowed:
            return
        gid = f"g{n}"
        record_verdict(self.state, d, verdict, gid, self.at)
        slip = SLIP * slip_steps / 5
        entry = (price * (1 + slip)).quantize(D("0.0001"))
        qty = (verdict.approved_quantity * fill).quantize(D("0.00000001"))
        if qty <= 0:
            return
        pid = f"p{n}"
        on_opened(self.state, opened(pid, at=self.at, trader=d.trader_id, symbol=symbol,
                                     qty=str(qty), entry=str(entry), stop=str(stop), gid=gid))
        self.held[pid] = Held(symbol, qty, entry, stop, entry, slip, (entry - price) * qty)
        self.snapshot()

    def close(self, pid: str, exit_price: Decimal, reason: ExitReason) -> None:
        h = self.held.pop(pid)
        pnl = (exit_price - h.entry) * h.qty
        self.realized_total += pnl
        self.month.realized += (exit_price - h.base) * h.qty
        self.month.allowance += h.entry_slip + max(D(0), h.stop - exit_price) * h.qty
        on_closed(self.state, closed(pid, str(pnl), at=self.at, symbol=h.symbol, reason=reason),
                  self.policy.account)
        self.snapshot()

    def move(self, symbol: str, pct: Decimal) -> None:
        self.prices[symbol] = (self.prices[symbol] * (1 + pct / 100)).quantize(D("0.0001"))
        self.market_now()
        for pid, h in sorted(self.held.items()):
            if h.symbol == symbol and self.prices[symbol] <= h.stop:  # the stop fills, slipped
                self.close(pid, (h.stop * (1 - h.slip)).quantize(D("0.0001")),
                           ExitReason.STOP_LOSS)
        self.snapshot()

    def snapshot(self) -> None:
        on_snapshot(self.state, snapshot(str(self.equity), self.at), self.market,
                    self.policy.account)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
@example(LOSING_CARRY)
@example(GAINS_THEN_CARRIED_RISK)
def test_month_realized_loss_never_exceeds_limit_plus_slippage(steps: list) -> None:
    sim = Sim()
    for n, op in enumerate(steps):
        sim.step()
        match op:
            case ("price", i, pct):
                sim.move(SYMBOLS[i], pct)
            case ("open", i, stop_pct, fill, slip_steps):
                sim.open(n, SYMBOLS[i], stop_pct, fill, slip_steps)
            case ("close", index) if sim.held:
                pid = sorted(sim.held)[index % len(sim.held)]
                h = sim.held[pid]
                price = sim.prices[h.symbol]
                sim.close(pid, price, ExitReason.AI_CLOSE if price < h.entry
                          else ExitReason.TAKE_PROFIT)
            case ("month",):
                sim.next_month()
    for h in list(sim.held):  # the worst case: every open stop fills now, slipped
        stop = sim.held[h].stop
        sim.close(h, (stop * (1 - sim.held[h].slip)).quantize(D("0.0001")), ExitReason.STOP_LOSS)
    worst = max(-m.realized / m.capital for m in sim.months)
    carried = any(m.carried for m in sim.months)
    event("a month lost over 3%" if worst > D("0.03") else "months within 3%")
    event("positions carried into a new month" if carried else "nothing carried")
    target(float(worst), label="worst month loss share")
    _STATS.append((worst, carried))
    for m in sim.months:
        assert -m.realized <= LIMIT * m.capital + m.allowance, (m, LIMIT * m.capital)


def test_property_run_reached_losing_months_and_carried_positions() -> None:
    """Guards against a vacuous property: the runs lost close to the limit and carried
    positions across a month's start."""
    if not _STATS:
        test_month_realized_loss_never_exceeds_limit_plus_slippage()
    assert max(loss for loss, _ in _STATS) >= D("0.035")
    assert any(carried for _, carried in _STATS)
    assert any(carried and loss >= D("0.02") for loss, carried in _STATS)
