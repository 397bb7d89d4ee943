"""paper tells its symbols' rules on ``robson.venue.rules.paper.<symbol>``: at start-up only
what the bus does not hold already, and with every account configured (the handler the
one-process backtest runs too)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from robson_contracts import SymbolRules, TradingMode, derive_id
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.testing import ADMIN_HEADERS, asgi_client, read_stream, wait_until
from robson_paper.deps import PaperService
from robson_paper.domain.rules import DEFAULT_RULES
from robson_paper.main import build_service
from robson_paper.settings import PaperSettings

from .bus_helpers import D

PAPER_RULES = f"{s.ALL_VENUE_RULES[:-1]}paper.>"


async def told(bus: Bus) -> list[SymbolRules]:
    return await read_stream(bus, PAPER_RULES)


def of(messages: list[SymbolRules], symbol: str) -> list[SymbolRules]:
    return [m for m in messages if m.symbol == symbol]


@asynccontextmanager
async def running(nats_url: str, database_url: str, schema: str, symbols: dict | None = None
                  ) -> AsyncIterator[PaperService]:
    service = build_service(PaperSettings(
        nats_url=nats_url, database_url=database_url, db_schema=schema, ack_wait_seconds=2,
        symbols_json=json.dumps(symbols) if symbols else ""))
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def test_paper_tells_its_symbols_rules_at_start_up_and_then_only_what_changed(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    """The stream keeps the latest rules per symbol: a restart with the same rules leaves them
    as they were; changed rules replace them, and so does a change back."""
    n = len(DEFAULT_RULES)
    async with running(nats_url, database_url, schema):
        first = await wait_until(lambda: _at_least(bus, n), timeout=10, message="rules told")
    assert len(first) == n and {m.venue for m in first} == {TradingMode.PAPER}
    [btc] = of(first, "BTCUSDT")
    assert (btc.base_asset, btc.quote_asset, btc.tick_size, btc.step_size, btc.min_qty,
            btc.min_notional) == ("BTC", "USDT", D("0.01"), D("0.00001"), D("0.00001"), D("5"))
    async with running(nats_url, database_url, schema) as again:  # restarted, the same rules
        await wait_until(lambda: _finished(again), timeout=10, message="start-up task done")
    assert await told(bus) == first, "the same rules told again"
    coarse = {"BTCUSDT": {"tick": "0.1", "step": "0.001", "min_notional": "10"}}
    async with running(nats_url, database_url, schema, coarse):
        changed = await wait_until(lambda: _btc_step(bus, D("0.001")), timeout=10, message="change told")
    assert [m for m in changed if m.symbol != "BTCUSDT"] == [m for m in first if m.symbol != "BTCUSDT"]
    async with running(nats_url, database_url, schema):  # and back: told again, not deduplicated
        back = await wait_until(lambda: _btc_step(bus, D("0.00001")), timeout=10, message="change back told")
    assert of(back, "BTCUSDT")[0].message_id != btc.message_id


async def test_configuring_an_account_tells_the_rules_with_it(bus: Bus, paper: PaperService) -> None:
    before = await wait_until(lambda: _at_least(bus, len(DEFAULT_RULES)), timeout=10, message="start-up")
    async with asgi_client(paper, "http://paper", headers=ADMIN_HEADERS) as client:
        r = await client.put("/accounts/acc5", json={"balances": {"USDT": "1000"}})
        assert r.status_code == 200, r.text

    async def retold() -> list[SymbolRules] | None:
        now = await told(bus)
        ids = {m.message_id for m in before}
        return now if len(now) == len(before) and not ids & {m.message_id for m in now} else None

    again = await wait_until(retold, timeout=10, message="told with the account")
    assert of(again, "ETHUSDT")[0].step_size == D("0.0001")


def test_the_rules_told_with_a_command_are_the_same_messages_every_time() -> None:
    """A redelivered or replayed command (the backtest configures its accounts this way too)
    tells identical messages: ids derive from the command."""
    from robson_paper.handlers.venue_rules import rules_messages

    cause = derive_id("paper-put-account", "acc1", "2024-01-01T00:00:00+00:00")
    at = datetime(2024, 1, 1, tzinfo=UTC)
    once, twice = rules_messages(DEFAULT_RULES, at, cause), rules_messages(DEFAULT_RULES, at, cause)
    assert once == twice and [m.symbol for m in once] == sorted(DEFAULT_RULES)
    assert len({m.message_id for m in once}) == len(once)
    other = rules_messages(DEFAULT_RULES, at, derive_id("another command"))
    assert not {m.message_id for m in once} & {m.message_id for m in other}


async def _at_least(bus: Bus, n: int) -> list[SymbolRules] | None:
    found = await told(bus)
    return found if len(found) >= n else None


async def _btc_step(bus: Bus, step: D) -> list[SymbolRules] | None:
    found = await told(bus)
    return found if [m.step_size for m in of(found, "BTCUSDT")] == [step] else None


def _finished(service: PaperService) -> bool:
    return service.supervisor.loops["tell_symbol_rules"].finished
