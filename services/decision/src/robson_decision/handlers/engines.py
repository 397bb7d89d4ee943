"""The decision port: rules or LLM behind one ``decide`` call, with validation and fallback.

LLM answers come from the live endpoint (every attempt recorded) or, in replay mode, from
that record: a missing record is ``ReplayRecordMissing``, never a silent live call. Inside a
consumer's transaction the model is never asked (``Unasked``): the call is made ahead of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from robson_contracts import DecisionEngine, DecisionKind

from robson_decision.adapters.llm import Attempt, ChatClient, LlmUnavailable
from robson_decision.domain import rules
from robson_decision.domain.context import DecisionContext
from robson_decision.domain.decide import (
    EngineInfo,
    NothingToDo,
    Outcome,
    Stamp,
    finalize,
    rejected_answer,
)
from robson_decision.domain.prompts import render
from robson_decision.domain.proposal import AnswerFormatError, parse_answer, response_schema
from robson_decision.domain.settings import EngineName, TraderSettings

SCHEMA = response_schema()
NOT_ASKED_AHEAD = "LLM_NOT_ASKED_AHEAD"


class ReplayRecordMissing(Exception):
    def __init__(self, prompt_hash: str, prompt_version: str, model: str) -> None:
        super().__init__(
            f"no recorded model call for prompt {prompt_hash} "
            f"({prompt_version}, model {model}) — replay never calls the model"
        )
        self.prompt_hash = prompt_hash


class Unasked(Enum):
    """What ``decide`` does when this decision's model call was not made before."""

    ASK = "ask"
    """No transaction is open (the dry run, the ask-ahead): ask the model now."""
    WAIT = "wait"
    """Inside a transaction, which must not wait on the model (the server aborts one idle 2
    lock checks): ``NotAskedAhead``, and the caller waits for the call to be made ahead."""
    GIVE_UP = "give_up"
    """Waited long enough: the rules answer (``LLM_NOT_ASKED_AHEAD``), as when the model is
    down."""


class NotAskedAhead(Exception):
    def __init__(self, prompt_hash: str) -> None:
        super().__init__(f"prompt {prompt_hash} was not asked ahead of the transaction")
        self.prompt_hash = prompt_hash


class CallRecord:
    """Where model calls are written and, in replay, read back (the repository in production)."""

    async def add_model_calls(self, rows: list[dict[str, Any]]) -> None: ...
    async def recorded_calls(self, prompt_hash: str) -> list[Any]: ...
    async def prompts_asked(self, decision_id: str) -> int: ...


@dataclass
class Decider:
    client: ChatClient | None
    default_model: str
    replay: bool = False
    now: Any = None
    """Wall clock for the model-call record's ``created_at`` (not used by any decision)."""

    async def decide(
        self,
        ctx: DecisionContext,
        s: TraderSettings,
        stamp: Stamp,
        record: CallRecord,
        calls_today: int = 0,
        unasked: Unasked = Unasked.ASK,
    ) -> Outcome | NothingToDo:
        """``NothingToDo``: a position review that decides nothing (what it cost included).
        ``NotAskedAhead`` with ``Unasked.WAIT`` when the model would have to be asked."""
        if s.engine is EngineName.RULES:
            return _rules(ctx, s, stamp, EngineInfo(DecisionEngine.RULES))
        model = s.model or self.default_model
        prompt = render(ctx, s)
        info = EngineInfo(DecisionEngine.LLM, model, prompt.version)
        if calls_today >= s.llm_daily_call_budget:
            why = f"{calls_today}/{s.llm_daily_call_budget} calls today"
            return _rules(ctx, s, stamp, _fallback(info, "LLM_BUDGET_EXHAUSTED", why, 0))
        digest = prompt.hash(model, SCHEMA)
        try:
            raw, calls = await self._answer(prompt, model, digest, record, ctx, stamp, unasked)
        except LlmUnavailable as exc:
            calls = max(1 if exc.attempts else 0, await record.prompts_asked(stamp.decision_id))
            return _rules(ctx, s, stamp, _fallback(info, exc.code, exc.detail, calls))
        # Every prompt asked for this decision was paid for: more than one when its inputs
        # changed between the ask ahead and its handler (asked again), and the budget counts
        # what the stored decision says.
        calls = max(calls, await record.prompts_asked(stamp.decision_id))
        info = EngineInfo(
            DecisionEngine.LLM, model, prompt.version, raw_answer=raw, model_calls=calls
        )
        try:
            proposal = parse_answer(raw)
        except AnswerFormatError as exc:
            return rejected_answer(ctx, s, stamp, info, str(exc))
        if (
            ctx.signal is None
            and proposal.decision in (DecisionKind.WATCH, DecisionKind.NO_TRADE)
            and not proposal.modifications
        ):
            return NothingToDo(calls)
        return finalize(ctx, s, proposal, stamp, info, _model_reason(proposal.decision))

    async def ask_ahead(
        self,
        ctx: DecisionContext,
        s: TraderSettings,
        stamp: Stamp,
        record: CallRecord,
        calls_today: int = 0,
    ) -> None:
        """Make and record the model call ``decide`` will need for these very inputs, before its
        transaction opens: ``decide`` then finds the recorded answer (``_asked_before``) and
        calls nothing. Does nothing where ``decide`` would not call (rules, replay, no endpoint,
        budget spent); a failed call is recorded too, so ``decide`` falls back the same way."""
        if s.engine is EngineName.RULES or self.replay or self.client is None:
            return
        if calls_today >= s.llm_daily_call_budget:
            return
        model = s.model or self.default_model
        prompt = render(ctx, s)
        try:
            await self._answer(
                prompt, model, prompt.hash(model, SCHEMA), record, ctx, stamp, Unasked.ASK
            )
        except LlmUnavailable:
            pass  # recorded: decide replays the failure and the rules answer

    async def _answer(
        self,
        prompt: Any,
        model: str,
        digest: str,
        record: CallRecord,
        ctx: DecisionContext,
        stamp: Stamp,
        unasked: Unasked,
    ) -> tuple[str, int]:
        if self.replay:
            return await _from_record(record, digest, prompt.version, model, stamp.decision_id)
        # This very decision was asked already (a retry after a rolled-back batch, a batch
        # split, a signal re-sent under another id): its recorded outcome, never a second call.
        answered = await _asked_before(record, digest, stamp.decision_id)
        if answered is not None:
            return answered, 1
        if self.client is None:
            raise LlmUnavailable("LLM_NOT_CONFIGURED", "no LLM endpoint configured")
        if unasked is Unasked.WAIT:
            raise NotAskedAhead(digest)
        if unasked is Unasked.GIVE_UP:
            raise LlmUnavailable(
                NOT_ASKED_AHEAD, "not asked ahead, and never asked inside a transaction"
            )
        try:
            completion = await self.client.complete(prompt, model, SCHEMA)
        except LlmUnavailable as exc:
            await record.add_model_calls(
                self._rows(exc.attempts, digest, model, prompt.version, ctx, stamp)
            )
            raise
        await record.add_model_calls(
            self._rows(completion.attempts, digest, model, prompt.version, ctx, stamp)
        )
        return completion.content, 1

    def _rows(
        self,
        attempts: list[Attempt],
        digest: str,
        model: str,
        version: str,
        ctx: DecisionContext,
        stamp: Stamp,
    ) -> list[dict[str, Any]]:
        created: datetime = self.now() if self.now else ctx.as_of
        return [
            {
                "prompt_hash": digest,
                "decision_id": stamp.decision_id,
                "trader_id": ctx.trader_id,
                "model": model,
                "prompt_version": version,
                "attempt": a.attempt,
                "status": a.status,
                "error": a.error,
                "raw_answer": a.raw_answer,
                "latency_ms": a.latency_ms,
                "prompt_tokens": a.prompt_tokens,
                "completion_tokens": a.completion_tokens,
                "occurred_at": ctx.as_of,
                "created_at": created,
            }
            for a in attempts
        ]


async def _from_record(
    record: CallRecord, digest: str, version: str, model: str, decision_id: str
) -> tuple[str, int]:
    rows = await record.recorded_calls(digest)
    if not rows:
        raise ReplayRecordMissing(digest, version, model)
    # The same prompt may have been asked for several decisions (answered differently): this
    # decision's own record first, any answer to the prompt only when it has none.
    rows = [r for r in rows if r.decision_id == decision_id] or rows
    answered = [r for r in rows if r.status == "OK"]
    if answered:
        return answered[-1].raw_answer, 1
    last = rows[-1].error or "LLM_FAILED: recorded failure"
    code, _, detail = last.partition(": ")
    raise LlmUnavailable(code, f"replayed: {detail}", [Attempt(0, "ERROR", 0.0, last)])


async def _asked_before(record: CallRecord, digest: str, decision_id: str) -> str | None:
    """The recorded answer to this prompt for this decision; ``LlmUnavailable`` again when the
    recorded call failed on every attempt; None when it was never asked (or the process died
    before the call returned: nothing was recorded)."""
    rows = [r for r in await record.recorded_calls(digest) if r.decision_id == decision_id]
    if not rows:
        return None
    answered = [r for r in rows if r.status == "OK"]
    if answered:
        return answered[-1].raw_answer
    last = rows[-1].error or "LLM_FAILED: recorded failure"
    code, _, detail = last.partition(": ")
    raise LlmUnavailable(code, f"recorded: {detail}", [Attempt(0, "ERROR", 0.0, last)])


def _rules(
    ctx: DecisionContext, s: TraderSettings, stamp: Stamp, info: EngineInfo
) -> Outcome | NothingToDo:
    answer = rules.decide(ctx, s)
    if answer is None:
        return NothingToDo(info.model_calls)
    if info.fallback_reason:
        code = info.fallback_reason.partition(":")[0]
        note = f"[llm unavailable: {code}; rules answered] "
        answer = rules.RuleAnswer(
            answer.proposal.model_copy(update={"reasoning": note + answer.proposal.reasoning}),
            answer.reason_code,
        )
    return finalize(ctx, s, answer.proposal, stamp, info, answer.reason_code)


def _fallback(info: EngineInfo, code: str, detail: str, calls: int) -> EngineInfo:
    """Only the code reaches the published reasoning (latencies differ between runs)."""
    return EngineInfo(
        DecisionEngine.RULES,
        info.model,
        info.prompt_version,
        fallback_reason=f"{code}: {detail}",
        model_calls=calls,
    )


def _model_reason(kind: DecisionKind) -> str | None:
    return "MODEL_NO_TRADE" if kind is DecisionKind.NO_TRADE else None
