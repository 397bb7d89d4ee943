"""Replay reads, for each decision, the answer that decision was given live."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from robson_contracts import DecisionKind
from robson_decision.adapters.llm import Attempt, Completion
from robson_decision.domain.context import Performance
from robson_decision.domain.decide import Stamp
from robson_decision.domain.settings import TraderSettings
from robson_decision.handlers.engines import Decider, Unasked

from .factories import entry_ctx, signal

LLM = TraderSettings(engine="llm", model="m")


def _answer(kind: str) -> str:
    if kind == "NO_TRADE":
        return json.dumps({"decision": "NO_TRADE", "confidence": 0.9})
    return json.dumps({"decision": "LONG", "confidence": 0.9, "entry_price": 100,
                       "stop_loss": 98, "take_profits": [{"price": 104, "fraction": 1}]})


class Record:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    async def add_model_calls(self, rows: list[dict[str, Any]]) -> None:
        self.rows += rows

    async def recorded_calls(self, prompt_hash: str) -> list[Any]:
        return [SimpleNamespace(**r) for r in self.rows if r["prompt_hash"] == prompt_hash]

    async def prompts_asked(self, decision_id: str) -> int:
        return len({r["prompt_hash"] for r in self.rows if r["decision_id"] == decision_id})


class Scripted:
    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)

    async def complete(self, prompt: Any, model: str, schema: Any) -> Completion:
        content = self.answers.pop(0)
        return Completion(content, [Attempt(1, "OK", 1.0, raw_answer=content)])


async def test_replay_gives_each_decision_its_own_recorded_answer_when_prompts_coincide() -> None:
    # Two signals of one trader on the same candle, told apart only by their signal ids: the
    # prompts (and hashes) are the same, the live model answered them differently.
    first, second = signal(i=1), signal(i=2)
    record = Record()
    live = Decider(Scripted(_answer("LONG"), _answer("NO_TRADE")), "m")
    a = await live.decide(entry_ctx(first), LLM, Stamp.for_signal(first), record)
    b = await live.decide(entry_ctx(second), LLM, Stamp.for_signal(second), record)
    assert (a.decision.decision, b.decision.decision) == (DecisionKind.LONG, DecisionKind.NO_TRADE)

    replay = Decider(None, "m", replay=True)
    ra = await replay.decide(entry_ctx(first), LLM, Stamp.for_signal(first), record)
    rb = await replay.decide(entry_ctx(second), LLM, Stamp.for_signal(second), record)
    assert ra.decision.model_dump_json() == a.decision.model_dump_json()
    assert rb.decision.model_dump_json() == b.decision.model_dump_json()


async def test_decision_asked_again_after_its_inputs_changed_counts_both_paid_calls() -> None:
    """The ask-ahead asked the model for this entry, then its inputs changed before its handler
    ran (a trade closed meanwhile: another prompt) and it was asked again: two calls paid. The
    stored decision counts both, as the day's budget reads them from it (it counted the one
    whose answer it used, and the budget then allowed a call more than was set)."""
    sig = signal(i=1)
    stamp = Stamp.for_signal(sig)
    record = Record()
    live = Decider(Scripted(*[_answer("LONG")] * 3), "m")
    before = entry_ctx(sig)
    after = replace(before, performance=Performance(trades=1, wins=1, avg_pnl_pct=Decimal(2)))
    await live.ask_ahead(before, LLM, stamp, record)
    await live.ask_ahead(after, LLM, stamp, record)
    assert len({r["prompt_hash"] for r in record.rows}) == 2  # two prompts, two calls
    outcome = await live.decide(after, LLM, stamp, record, unasked=Unasked.WAIT)
    assert outcome.decision.decision is DecisionKind.LONG
    assert outcome.info.model_calls == 2
    other = Stamp.for_signal(signal(i=2))  # a decision asked once counts one
    await live.ask_ahead(entry_ctx(signal(i=2)), LLM, other, record)
    asked_once = await live.decide(entry_ctx(signal(i=2)), LLM, other, record, unasked=Unasked.WAIT)
    assert asked_once.info.model_calls == 1
