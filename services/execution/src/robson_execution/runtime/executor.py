"""The live-trading runtime: per-account gateways, rules cache, circuit breakers, the
reconciliation gate, user data streams with REST polling fallback, and background loops."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from robson_kit import logs
from robson_kit.service import Service

from robson_execution.adapters import repo
from robson_execution.adapters.binance import BinanceGateway, Endpoints
from robson_execution.adapters.userstream import run_user_stream
from robson_execution.adapters.vault import KeyVault
from robson_execution.domain.breaker import BreakerState, CircuitBreaker
from robson_execution.domain.outcomes import Kind
from robson_execution.domain.rules import SymbolRules
from robson_execution.domain.timesync import TimeSync
from robson_execution.handlers.venue import (
    VenueTrade,
    apply_final,
    apply_report,
    apply_trade,
    mark_accepted,
)
from robson_execution.runtime.fee_prices import FeePrices
from robson_execution.runtime.told_rules import RulesTeller
from robson_execution.settings import ExecutionSettings

log = logs.get_logger(__name__)


@dataclass
class StreamState:
    task: asyncio.Task[None] | None = None
    up: bool = False


class Executor:
    def __init__(self, service: Service, settings: ExecutionSettings, vault: KeyVault) -> None:
        self.service = service
        self.settings = settings
        self.vault = vault
        self.clock = service.clock
        self.gateways: dict[str, BinanceGateway] = {}
        self.bans: dict[str, float] = {}
        """Rate-limit bans per REST endpoint, shared by all accounts' gateways (per IP)."""
        self.rules: dict[str, dict[str, SymbolRules]] = {}
        self.breakers: dict[str, CircuitBreaker] = {}
        self.ready: set[str] = set()
        self.reconciling: set[str] = set()
        self.locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._breaker_lock = asyncio.Lock()
        self.streams: dict[str, StreamState] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._live: list[Any] | None = None
        self._live_until = 0.0
        self._accounts_version = 0
        self.fee_prices = FeePrices()
        self.told_rules = RulesTeller(service)
        """Tells the rules of the symbols traded, and their changes (``SymbolRules``)."""

    # ---- wiring -------------------------------------------------------------------------
    def wake(self) -> None:
        self._wake.set()

    def accounts_changed(self) -> None:
        """An account's mode or keys changed (the API's account commands): the loops read the
        live accounts again at once, and the submitter wakes."""
        self._live = None
        self._accounts_version += 1
        self.wake()

    def endpoints(self, testnet: bool) -> Endpoints:
        s = self.settings
        return Endpoints.for_account(testnet, s.binance_rest_url, s.binance_ws_api_url)

    async def gateway(self, account_id: str) -> BinanceGateway | None:
        async with self.service.uow() as uow:
            account = await repo.get_account(uow.session, account_id)
        if account is None or not account.credentials or account.mode != "LIVE":
            return None
        key = f"{account_id}:{account.key_fingerprint}:{account.testnet}"
        gw = self.gateways.get(account_id)
        if gw is None or getattr(gw, "_key", None) != key:
            if gw is not None:
                await gw.close()
            gw = BinanceGateway(self.vault.decrypt(account.credentials, account_id),
                                self.endpoints(account.testnet), self.settings.request_timeout_seconds,
                                clock=TimeSync(interval=self.settings.time_sync_interval_seconds),
                                bans=self.bans)
            gw._key = key  # type: ignore[attr-defined]
            self.gateways[account_id] = gw
        return gw

    async def valued(self, gw: BinanceGateway, symbol: str, trade: VenueTrade) -> VenueTrade:
        """``trade`` with a commission in a third asset (BNB) valued in the quote asset."""
        if trade.fee_asset and not symbol.endswith(trade.fee_asset) \
                and not symbol.startswith(trade.fee_asset):
            return await self.fee_prices.valued(gw, await self.symbol_rules(gw, symbol), trade)
        return trade

    async def symbol_rules(self, gw: BinanceGateway, symbol: str) -> SymbolRules | None:
        cache = self.rules.get(gw.endpoints.rest, {})
        if symbol not in cache and not await self.refresh_rules(gw):
            return None
        found = self.rules[gw.endpoints.rest].get(symbol)
        if found is not None:
            await self.told_rules.needed(gw.endpoints.rest, found)
        return found

    async def refresh_rules(self, gw: BinanceGateway) -> bool:
        """Fetch ``exchangeInfo`` again: on the schedule, when a symbol is missing, and after the
        exchange refused an order with a filter failure (its tick/step sizes may have changed).
        The traded symbols whose rules changed are told on the bus (``told_rules.py``)."""
        res = await gw.exchange_info()
        if not res.ok:
            log.warning("rules.refresh_failed", error=res.outcome.message)
            return False
        self.rules[gw.endpoints.rest] = {
            info["symbol"]: SymbolRules.from_exchange_info(info) for info in res.data.get("symbols", [])}
        await self.told_rules.refreshed(gw.endpoints.rest, self.rules[gw.endpoints.rest])
        return True

    async def _rules_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.rules_refresh_seconds)
            refreshed: set[str] = set()
            for account in await self.live_accounts():
                gw = self.gateways.get(account.account_id)
                if gw is not None and gw.endpoints.rest in self.rules and gw.endpoints.rest not in refreshed:
                    refreshed.add(gw.endpoints.rest)
                    await self.refresh_rules(gw)

    def breaker(self, symbol: str) -> CircuitBreaker:
        s = self.settings
        return self.breakers.setdefault(symbol, CircuitBreaker(
            symbol, threshold=s.breaker_threshold, cool_down=timedelta(seconds=s.breaker_cool_down_seconds)))

    async def record(self, symbol: str, kind: Kind, error: str = "") -> None:
        """Feed an outcome to the symbol's breaker; a changed breaker is stored, so an OPEN one
        stays open across a restart until its cool-down has passed.

        The breaker that is read (``GET /breakers``, the submitter) changes once the store has
        it, so a breaker seen OPEN is also OPEN after a restart; if the store fails it changes
        anyway (an outage must not keep a failing venue's breaker closed). One outcome at a
        time: the next one reads what this one stored."""
        if kind is not Kind.UNKNOWN and kind not in (Kind.OK, Kind.REJECTED, Kind.NOT_FOUND):
            return
        async with self._breaker_lock:
            old = self.breaker(symbol)
            if kind is Kind.UNKNOWN:
                new = old.record_failure(self.clock.now(), error[:500])
            else:
                new = old.record_success()
            if new == old:
                return
            try:
                async with self.service.uow() as uow:
                    await repo.save_breaker(uow.session, symbol, self.clock.now(),
                                            state=new.state.value, failures=new.failures,
                                            opened_at=new.opened_at, last_error=new.last_error)
            finally:
                self.breakers[symbol] = new

    async def load_breakers(self) -> None:
        s = self.settings
        async with self.service.uow() as uow:
            rows = await repo.all_breakers(uow.session)
        for r in rows:
            self.breakers[r.symbol] = CircuitBreaker(
                r.symbol, BreakerState(r.state), r.failures, r.opened_at, s.breaker_threshold,
                timedelta(seconds=s.breaker_cool_down_seconds), r.last_error)

    # ---- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        from robson_execution.runtime.reconciler import reconcile_loop
        from robson_execution.runtime.submitter import submit_loop

        await self.load_breakers()
        # Supervised: a database or venue error restarts the loop with backoff (counted, and
        # named by /readyz while it keeps failing) instead of ending it for good.
        supervise = self.service.supervise
        self._tasks = [supervise("submit", lambda: submit_loop(self)),
                       supervise("poll", self._poll_loop),
                       supervise("reconcile", lambda: reconcile_loop(self)),
                       supervise("rules", self._rules_loop)]

    async def stop(self) -> None:
        for state in self.streams.values():
            if state.task:
                state.task.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, *(s.task for s in self.streams.values() if s.task),
                             return_exceptions=True)
        for gw in self.gateways.values():
            with contextlib.suppress(Exception):
                await gw.close()

    async def wait_wake(self, timeout: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()

    async def live_accounts(self) -> list[Any]:
        """The LIVE accounts with keys, read at most once per ``poll_interval_seconds`` (the
        submitter and the reconciler ask every half second; changes through the API are read
        at once, see ``accounts_changed``)."""
        now = asyncio.get_running_loop().time()
        if self._live is not None and now < self._live_until:
            return self._live
        version = self._accounts_version
        async with self.service.uow() as uow:
            live = [a for a in await repo.all_accounts(uow.session) if a.mode == "LIVE" and a.credentials]
        if version == self._accounts_version:  # else a change landed during the read: not kept
            self._live, self._live_until = live, now + self.settings.poll_interval_seconds
        return live

    # ---- user data stream + polling fallback ---------------------------------------------
    def ensure_stream(self, account_id: str, gw: BinanceGateway) -> None:
        state = self.streams.setdefault(account_id, StreamState())
        if state.task is None or state.task.done():
            async def on_event(event: dict[str, Any]) -> None:
                trade = None
                if event.get("x") == "TRADE":
                    trade = await self.valued(gw, event["s"], VenueTrade.from_report(event))
                async with self.service.uow() as uow:
                    await apply_report(uow, event, trade)

            async def on_state(up: bool) -> None:
                was_up, state.up = state.up, up
                if up and not was_up:
                    await self.sync_account(account_id)  # catch up on what the gap hid

            try:
                state.task = self.service.supervise(f"user_stream:{account_id}", lambda: run_user_stream(
                    gw.endpoints.ws_api, gw.credentials, on_event, on_state, now_ms=gw.server_now_ms))
            except ValueError:  # the stream just stopped is still winding down: next reconciliation
                log.info("user_stream.restart_deferred", account_id=account_id)

    def stop_stream(self, account_id: str) -> None:
        state = self.streams.pop(account_id, None)
        if state and state.task:
            state.task.cancel()

    def stream_up(self, account_id: str) -> bool:
        state = self.streams.get(account_id)
        return bool(state and state.up)

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.poll_interval_seconds)
            for account in await self.live_accounts():
                if account.account_id in self.ready and not self.stream_up(account.account_id):
                    try:
                        await self.sync_account(account.account_id)
                    except Exception as exc:
                        log.warning("poll.failed", account_id=account.account_id, error=repr(exc))

    async def sync_account(self, account_id: str) -> None:
        gw = await self.gateway(account_id)
        if gw is None:
            return
        async with self.service.uow() as uow:
            rows = [r for r in await repo.open_rows(uow.session, account_id) if r.status != "PENDING"]
        for row in rows:
            res = await gw.query_order(row.symbol, row.client_order_id)
            if res.ok:
                await self.adopt(gw, row.client_order_id, res.data, "poll")

    async def adopt(self, gw: BinanceGateway, cid: str, venue: dict[str, Any], source: str) -> None:
        """Take the venue's view of one of our orders as the truth: accepted, fills, final state."""
        async with self.service.uow() as uow:
            await mark_accepted(uow, cid, int(venue["orderId"]))
            row = await repo.order_by_cid(uow.session, cid)
        if Decimal(venue["executedQty"]) > Decimal(row.filled_qty):
            res = await gw.trades_for(venue["symbol"], int(venue["orderId"]))
            if not res.ok:
                return  # its fills first: a final state now would hide them for good
            trades = [await self.valued(gw, venue["symbol"], VenueTrade.from_rest(t))
                      for t in sorted(res.data, key=lambda t: t["id"])]
            async with self.service.uow() as uow:
                for trade in trades:
                    await apply_trade(uow, cid, trade, source)
        if venue["status"] in ("CANCELED", "EXPIRED", "REJECTED", "EXPIRED_IN_MATCH"):
            async with self.service.uow() as uow:
                await apply_final(uow, cid, venue["status"], venue["status"])
