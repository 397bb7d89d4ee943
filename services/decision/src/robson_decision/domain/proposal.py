"""A proposal: what an engine answers, before validation turns it into a TradeDecision.

It is also the JSON schema an LLM must answer with. Prices are JSON numbers parsed straight
into Decimal (``json.loads(parse_float=Decimal)``), so no binary float touches money.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from robson_contracts import DecisionKind, ModificationKind

Num = Annotated[Decimal, WithJsonSchema({"type": "number"})]
NullableNum = Annotated[Decimal | None, WithJsonSchema({"type": ["number", "null"]})]


class ProposedTakeProfit(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    price: Num
    fraction: Num


class ProposedModification(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: ModificationKind
    new_value: NullableNum = None
    tp_index: Annotated[int | None, WithJsonSchema({"type": ["integer", "null"]})] = None
    fraction: NullableNum = None
    trail_percent: NullableNum = None
    reason: str = ""


class Proposal(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    decision: DecisionKind
    confidence: Num
    reasoning: str = Field("", max_length=4000)
    entry_price: NullableNum = None
    stop_loss: NullableNum = None
    take_profits: tuple[ProposedTakeProfit, ...] = ()
    close_fraction: NullableNum = None
    modifications: tuple[ProposedModification, ...] = ()


class AnswerFormatError(ValueError):
    """The answer is not JSON, or not a Proposal."""


def parse_answer(raw: str) -> Proposal:
    try:
        data: Any = json.loads(_strip_fences(raw), parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise AnswerFormatError(f"answer is not JSON: {exc}") from exc
    try:
        return Proposal.model_validate(data)
    except ValueError as exc:
        raise AnswerFormatError(f"answer does not match the schema: {exc}") from exc


def _strip_fences(raw: str) -> str:
    """Some local models wrap JSON in ```json fences despite the response format."""
    text = raw.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text[4:] if text.startswith("json") else text
    return text


def response_schema() -> dict[str, Any]:
    """JSON schema for the chat-completions ``response_format`` (strict mode friendly)."""
    return _strict(Proposal.model_json_schema())


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI strict mode wants every property required and no extra properties."""
    out = dict(schema)
    if out.get("type") == "object" and "properties" in out:
        out["additionalProperties"] = False
        out["required"] = list(out["properties"])
    for key in ("properties", "$defs"):
        if key in out:
            out[key] = {k: _strict(v) for k, v in out[key].items()}
    if "items" in out and isinstance(out["items"], dict):
        out["items"] = _strict(out["items"])
    for key in ("anyOf", "allOf"):
        if key in out:
            out[key] = [_strict(v) for v in out[key]]
    out.pop("default", None)
    return out
