"""entry_gate: gate evaluation with every rule for an account with 1,000 open positions
(in-process), and POST /check through the ASGI app (real Postgres + NATS, embedded)."""

from __future__ import annotations

import gc
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from robson_contracts import PositionOpened, PositionSide, TradeDecision
from robson_entry_gate.domain.gate import evaluate
from robson_entry_gate.domain.policy import AccountPolicy, EffectivePolicy
from robson_entry_gate.domain.projection import on_opened, roll
from robson_entry_gate.domain.state import AccountState, MarketSnapshot

from bench.common import Metric, at_most, info, median, percentile

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
SYMBOLS = [f"SYM{i}USDT" for i in range(20)]


def _account(rng: random.Random) -> tuple[AccountState, dict, EffectivePolicy]:
    account = AccountPolicy.model_validate({
        "positions": {"max_per_trader": 5000, "max_per_account": 5000},
        "concurrency": {"cap": None, "budget": "0.5", "unit": "0.0001"},
        "frequency": {"per_minute": 1000, "per_hour": 5000,
                                                    "per_day": 5000},
    })
    policy = EffectivePolicy(account=account)
    market = {s: MarketSnapshot(symbol=s, last_price=Decimal(100 + i), price_at=T0,
                                funding_rate=Decimal("0.0001"), context_at=T0)
              for i, s in enumerate(SYMBOLS)}
    state = AccountState(account_id="bench", equity=Decimal("10000000"),
                         free_quote=Decimal("10000000"), peak_equity=Decimal("10000000"))
    roll(state, market, account, T0)
    for i in range(1000):
        on_opened(state, PositionOpened(
            occurred_at=T0, account_id="bench", position_id=f"p{i}", trader_id=f"t{i % 50}",
            symbol=rng.choice(SYMBOLS), side=PositionSide.LONG, quantity="1",
            entry_price=str(rng.randint(90, 110)), stop_loss="80", initial_risk="10", fees="0"))
    return state, market, policy


def _decision(n: int) -> TradeDecision:
    return TradeDecision(occurred_at=T0 + timedelta(seconds=1), account_id="bench",
                         decision_id=f"b{n}", trader_id="tx", symbol=SYMBOLS[n % 20],
                         decision="LONG", confidence="0.8", entry_price="100", stop_loss="95",
                         quantity="3")


def _bench_evaluate() -> list[Metric]:
    state, market, policy = _account(random.Random(7))
    gc.collect()
    gc.freeze()  # the long-lived projection leaves the GC's young generations, as in a service
    samples = []
    for n in range(2000):
        d = _decision(n)
        started = time.perf_counter()
        verdict = evaluate(d, state, market, policy, d.occurred_at)
        samples.append((time.perf_counter() - started) * 1000)
    assert verdict.allowed, verdict.reason_codes  # the bench must exercise every rule
    return [
        at_most("entry_gate.evaluate_1000_positions_p99", percentile(samples, 99), "ms", 2,
                note=f"median {median(samples):.3f} ms, 16 rules, 2000 evaluations"),
        info("entry_gate.evaluate_1000_positions_median", median(samples), "ms"),
    ]


async def _bench_check() -> list[Metric]:
    import httpx
    from robson_entry_gate.main import build_service
    from robson_entry_gate.settings import EntryGateSettings
    from robson_kit.embedded import Infrastructure
    from robson_kit.testing import unique_schema

    infra = Infrastructure(Path(tempfile.mkdtemp(prefix="bench_gate_"))).start()
    try:
        settings = EntryGateSettings(nats_url=infra.nats_url, database_url=infra.database_url,
                                     db_schema=unique_schema("bench"))
        service = build_service(settings)
        await service.start()
        deps = service.state["gate"]
        state, market, _ = _account(random.Random(7))
        deps.accounts._cache["bench"] = (0, state)  # seeded projection: 1,000 open positions
        deps.market.view = market
        app = service.app(manage_lifecycle=False)
        samples = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://gate") as client:
            for n in range(400):
                body = _decision(n).model_dump_json()
                started = time.perf_counter()
                response = await client.post("/check", content=body,
                                             headers={"content-type": "application/json"})
                samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
        await service.stop()
    finally:
        infra.stop()
    warm = samples[20:]
    return [
        at_most("entry_gate.check_http_p99", percentile(warm, 99), "ms", 20,
                note=f"median {median(warm):.2f} ms, in-process ASGI, 1,000 open positions"),
        info("entry_gate.check_http_median", median(warm), "ms"),
    ]


async def run() -> list[Metric]:
    return _bench_evaluate() + await _bench_check()
