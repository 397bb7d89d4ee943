"""An LLM trader backtested from recorded model calls: no model is called; a prompt without a
recorded answer is dead-lettered with its hash; with the answers recorded, the run uses them."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from robson_backtest.data import DataError
from robson_backtest.engine import RunResult, run_backtest
from robson_backtest.recorded import load_recorded_calls
from robson_backtest.spec import BacktestSpec
from robson_contracts import SignalDetected, SignalDirection, Timeframe
from robson_decision.domain.settings import EngineName

from .helpers import DECISION, candles, policy, spec, trader

CENT = Decimal("0.01")
MISSING = re.compile(r"no recorded model call for prompt (\S+) ")


def _llm_spec() -> BacktestSpec:
    t = trader("llm", ("BTCUSDT",))
    # Reviews on 1h candles, which the 5m data has none of: the model answers the signals only.
    llm = {"engine": EngineName.LLM, "model": "m1", "review_timeframe": Timeframe.H1}
    t = replace(t, decision=DECISION.model_copy(update=llm))
    return spec((t,), policy(daily_loss={"enabled": False}, drawdown={"enabled": False}))


def _answer(message: Any) -> tuple[str, Decimal | None]:
    """What the 'model' says: long on a long signal (stop 1% under), no trade otherwise."""
    if isinstance(message, SignalDetected) and message.direction is SignalDirection.LONG:
        stop = (message.price * Decimal("0.99")).quantize(CENT)
        tp = (message.price * Decimal("1.015")).quantize(CENT)
        return json.dumps({"decision": "LONG", "confidence": 0.8, "reasoning": "recorded",
                           "stop_loss": str(stop),
                           "take_profits": [{"price": str(tp), "fraction": 1}]}), stop
    return json.dumps({"decision": "NO_TRADE", "confidence": 0.5, "reasoning": "recorded"}), None


def _run(s: BacktestSpec, calls: list[dict[str, Any]], path: Path) -> RunResult:
    path.write_text("\n".join(json.dumps(c) for c in calls) + "\n")
    recorded = load_recorded_calls(path)
    return asyncio.run(run_backtest(replace(s, recorded_calls=recorded), candles(["BTCUSDT"], 500)))


def test_an_llm_trader_replays_recorded_answers_and_dead_letters_unrecorded_prompts(
    tmp_path: Path,
) -> None:
    s, calls, stops = _llm_spec(), [], set()
    first = _run(s, calls, tmp_path / "calls.jsonl")
    assert first.trades == [] and first.dead_letters
    assert {d.reason_code for d in first.dead_letters} == {"REPLAY_RECORD_MISSING"}
    result = first
    for _ in range(80):  # each round records the answers the previous one asked for (a trade
        # changes the next prompts: its performance is in them)
        missing = [(MISSING.search(d.reason), d.message) for d in result.dead_letters]
        if not missing:
            break
        for found, message in missing:
            assert found is not None
            raw, stop = _answer(message)
            stops.add(stop)
            calls.append({"prompt_hash": found.group(1), "status": "OK", "raw_answer": raw,
                          "error": None, "trader_id": "llm", "model": "m1"})
        result = _run(s, calls, tmp_path / "calls.jsonl")
    assert result.dead_letters == []
    assert len(result.trades) >= 3
    assert all(t.exit_price in stops for t in result.trades if t.exit_reason.value == "STOP_LOSS")
    again = _run(s, calls, tmp_path / "calls.jsonl")
    assert [t.model_dump() for t in again.trades] == [t.model_dump() for t in result.trades]


@pytest.mark.parametrize(("text", "names"), [
    ('{"prompt_hash": "h", "status": "OK"}\nnot json\n', "calls.jsonl:2: not JSON"),
    ('{"prompt_hash": "h"}\n', "line 1: status: Field required"),
    ('[{"prompt_hash": "", "status": "OK"}]', "item 1: prompt_hash: String should have at least 1"),
    ('{"prompt_hash": "' + "h" * 129 + '", "status": "OK"}', "line 1: prompt_hash: String should have at most 128"),
    ('{"prompt_hash": "h", "status": "OK", "raw_answer": "' + "x" * (256 * 1024 + 1) + '"}',
     "line 1: raw_answer: String should have at most 262144"),
])
def test_an_unusable_recorded_calls_file_is_refused_naming_the_line_and_field(
    tmp_path: Path, text: str, names: str
) -> None:
    path = tmp_path / "calls.jsonl"
    path.write_text(text)
    with pytest.raises(DataError, match=re.escape(names)):
        load_recorded_calls(path)


@pytest.mark.parametrize(("bound", "limit", "rows", "refusal"), [
    ("MAX_FILE_BYTES", 1000, 100, "more than the 1,000 accepted"),  # before it is read
    ("MAX_ROWS", 10, 11, "11 rows, more than the 10 accepted"),
])
def test_a_recorded_calls_file_over_a_bound_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bound: str, limit: int, rows: int,
    refusal: str,
) -> None:
    from robson_backtest import recorded

    path = tmp_path / "calls.jsonl"
    path.write_text('{"prompt_hash": "h", "status": "OK"}\n' * rows)
    monkeypatch.setattr(recorded, bound, limit)
    with pytest.raises(DataError, match=refusal):
        load_recorded_calls(path)
