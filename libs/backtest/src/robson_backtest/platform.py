"""The five services in one process: each one's own handlers and consumer specs, over in-memory
repositories and the in-memory bus. Configuration goes in through the same application
services the HTTP API uses (paper's ``configure``, the policy stores' ``put_*``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from robson_contracts import (
    OrderFilled,
    OrderPartiallyFilled,
    PositionClosed,
    PositionOpened,
    TradingMode,
)
from robson_decision.adapters.memory import Memory
from robson_decision.adapters.memory_repository import MemoryRepository, MemoryTables
from robson_decision.entrypoints.consumers import consumer_specs as decision_specs
from robson_decision.handlers.decisions import DecisionHandlers
from robson_decision.handlers.engines import Decider
from robson_entry_gate.adapters.memory import (
    MemoryAccountStore,
    MemoryDecisionLog,
    MemoryMarketStore,
    MemoryPolicyStore,
)
from robson_entry_gate.entrypoints.consumers import consumer_specs as gate_specs
from robson_entry_gate.handlers.deps import GateDeps
from robson_kit.clock import ManualClock
from robson_kit.consumer import ConsumerSpec
from robson_paper.domain.valuation import holdings, last_price, value
from robson_paper.entrypoints.consumers import consumer_specs as paper_specs
from robson_paper.handlers.accounts import configure
from robson_position.adapters.memory import PositionTables
from robson_position.domain.policy import AccountSettings
from robson_position.entrypoints.consumers import consumer_specs as position_specs
from robson_position.handlers.runtime import Runtime as PositionRuntime
from robson_signal.domain.engine import StrategyEngine
from robson_signal.domain.registry import StrategyRegistry

from robson_backtest.bus import MemoryBus
from robson_backtest.paper import MemoryRuntime
from robson_backtest.spec import BacktestSpec
from robson_backtest.uow import MemorySession, MemoryUnitOfWork

CANDLES_KEPT = 500
"""decision's ``candles_kept`` default."""


class Recorder:
    """The backtest's own consumer: closed positions (the trade list), open ones, and every
    fill the venue reported."""

    def __init__(self) -> None:
        self.closed: list[PositionClosed] = []
        self.open: dict[str, PositionOpened] = {}
        self.fills: list[OrderFilled | OrderPartiallyFilled] = []

    async def __call__(self, event: object, uow: object) -> None:
        if isinstance(event, OrderFilled | OrderPartiallyFilled):
            self.fills.append(event)
        elif isinstance(event, PositionOpened):
            self.open[event.position_id] = event
        else:
            self.open.pop(event.position_id, None)
            self.closed.append(event)


class Platform:
    def __init__(self, spec: BacktestSpec, start: datetime) -> None:
        self.spec = spec
        self.clock = ManualClock(start)
        self.bus = MemoryBus(self.clock)
        self.recorder = Recorder()
        # signal
        registry = StrategyRegistry()
        self.strategies = StrategyEngine(registry)
        for trader in spec.traders:
            self.strategies.bind(trader.binding)
        # decision
        self.decision_tables = MemoryTables(model_calls=[dict(r) for r in spec.recorded_calls])
        memory = Memory()
        for trader in spec.traders:
            memory.put_settings(trader.trader_id, trader.decision)
        tables = self.decision_tables
        decider = Decider(None, spec.llm_model, replay=True, now=self.clock.now)
        self.decisions = DecisionHandlers(decider, self.clock, CANDLES_KEPT, memory,
                                          repository=lambda uow: MemoryRepository(tables))
        # entry_gate
        self.gate = GateDeps(accounts=MemoryAccountStore(), market=MemoryMarketStore(),
                             policies=MemoryPolicyStore(), log=MemoryDecisionLog())
        # position
        self.position = PositionRuntime(self.clock, mirror=False)
        self.position_tables = PositionTables()
        # paper
        self.paper = MemoryRuntime(spec.venue, spec.symbol_rules)

        def plain() -> MemorySession:
            return MemorySession()

        def positions() -> MemorySession:
            return MemorySession(self.position_tables)

        self.bus.subscribe(paper_specs(self.paper), plain)  # type: ignore[arg-type]
        self.bus.subscribe(position_specs(self.position), positions)
        self.bus.subscribe(gate_specs(self.gate), plain)
        self.bus.subscribe(decision_specs(self.decisions), plain)
        self.bus.subscribe([ConsumerSpec("backtest_trades", None, (), self.recorder,  # type: ignore[arg-type]
                                         accepts=(PositionOpened, PositionClosed, OrderFilled,
                                                  OrderPartiallyFilled))], plain)

    async def configure(self) -> None:
        """As ``robson up`` applies robson.yaml: policies, account modes, starting balances."""
        tables = self.position_tables
        for account in self.spec.accounts:
            uow = self._uow()
            await self.gate.policies.put_account(uow, account.account_id, account.policy)  # type: ignore[arg-type]
            await configure(uow, self.paper, account.account_id, "default",  # type: ignore[arg-type]
                            dict(account.balances), account.allow_short)
            self.bus.publish(await uow.commit())
            tables.accounts[account.account_id] = AccountSettings(mode=TradingMode.PAPER)
        for trader in self.spec.traders:
            uow = self._uow()
            account_id = trader.binding.account_id
            await self.gate.policies.put_trader(uow, account_id, trader.trader_id, trader.risk)  # type: ignore[arg-type]
            self.bus.publish(await uow.commit())
            tables.traders[trader.trader_id] = (False, trader.management)
        await self.bus.drain()

    def _uow(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(MemorySession(), self.clock)

    def holdings(self) -> list[dict[str, Decimal]]:
        """Each account's net holdings as paper counts them (its starting USDT until paper
        has the account)."""
        ex = self.paper.exchange
        return [holdings(held) if (held := ex.accounts.get(account.account_id)) is not None
                else {"USDT": account.quote_balance} for account in self.spec.accounts]

    def equity(self) -> Decimal:
        """Every account's equity at the last prices paper has seen, in USDT."""
        return valued(self.holdings(), last_price(self.paper.exchange.markets))

    def prices_with(self, owed: dict[str, Decimal]) -> Callable[[str], Decimal | None]:
        """The last prices paper has seen, but for ``owed``: the closes of bars held back from
        paper (``deferral.py``), as if it had seen them (read when asked: the dict may grow)."""
        paper_price = last_price(self.paper.exchange.markets)
        return lambda symbol: owed[symbol] if symbol in owed else paper_price(symbol)


def valued(held: list[dict[str, Decimal]], price: Callable[[str], Decimal | None]) -> Decimal:
    """The accounts' ``holdings()`` in USDT at ``price``; an asset without a price counts
    nothing."""
    total = Decimal(0)
    for amounts in held:
        worth = value(amounts, price)
        total += worth if worth is not None else Decimal(0)
    return total
