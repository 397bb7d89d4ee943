"""Versioned prompt templates, one per decision kind, rendered from the context only.

The rendering is deterministic (sorted keys, Decimal as strings), so the prompt hash is the
key of the record an LLM answer is replayed from. Change a template → bump its version.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from robson_decision.domain.context import DecisionContext
from robson_decision.domain.settings import TraderSettings

ENTRY_VERSION = "entry-v1"
MANAGEMENT_VERSION = "manage-v1"
MAX_BARS_IN_PROMPT = 30

_COMMON = (
    "You are the decision engine of a crypto trading platform. Answer with one JSON object "
    "matching the given schema and nothing else. Prices are numbers in the quote asset. "
    "confidence is in [0, 1]. Explain your reasoning briefly in 'reasoning'. "
)
ENTRY_SYSTEM = _COMMON + (
    "Question: should the trader enter on this signal? decision is LONG, SHORT, WATCH or "
    "NO_TRADE. An entry needs entry_price (near the current price), stop_loss (below entry for "
    "LONG, above for SHORT, between {min_stop}% and {max_stop}% away) and take_profits on the "
    "profit side whose fractions sum to at most 1. Leave modifications empty."
)
MANAGEMENT_SYSTEM = _COMMON + (
    "Question: how should the open position be managed at this candle close? decision is WATCH "
    "(hold, optionally with modifications: MOVE_SL never away from the current stop, TRAIL_SL "
    "with trail_percent, ADD_TP/MODIFY_TP/CANCEL_TP), PARTIAL_TP with close_fraction in (0, 1), "
    "or CLOSE. No entry fields."
)


@dataclass(frozen=True)
class Prompt:
    version: str
    messages: tuple[dict[str, str], ...]

    def hash(self, model: str, schema: dict[str, Any]) -> str:
        canonical = json.dumps(
            {
                "model": model,
                "version": self.version,
                "messages": list(self.messages),
                "schema": schema,
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def render(ctx: DecisionContext, s: TraderSettings) -> Prompt:
    if ctx.kind == "entry":
        system = ENTRY_SYSTEM.format(min_stop=s.min_stop_pct, max_stop=s.max_stop_pct)
        version = ENTRY_VERSION
    else:
        system, version = MANAGEMENT_SYSTEM, MANAGEMENT_VERSION
    user = json.dumps(context_document(ctx), sort_keys=True, separators=(",", ":"), default=str)
    return Prompt(
        version, ({"role": "system", "content": system}, {"role": "user", "content": user})
    )


def context_document(ctx: DecisionContext) -> dict[str, Any]:
    """The context as a JSON-able document (also shown in the API as the decision's input)."""
    doc: dict[str, Any] = {
        "trader_id": ctx.trader_id,
        "symbol": ctx.symbol,
        "timeframe": ctx.timeframe,
        "as_of": ctx.as_of.isoformat(),
        "price": str(ctx.price),
        "recent_performance": ctx.performance.summary(),
        "candles": [
            [
                b.open_time.isoformat(),
                str(b.open),
                str(b.high),
                str(b.low),
                str(b.close),
                str(b.volume),
            ]
            for b in ctx.bars[-MAX_BARS_IN_PROMPT:]
        ],
        "market": {
            k: (str(v) if v is not None else None)
            for k, v in (
                ("funding_rate", ctx.market.funding_rate),
                ("mark_price", ctx.market.mark_price),
                ("index_price", ctx.market.index_price),
            )
        },
    }
    if ctx.signal is not None:
        sig = ctx.signal
        doc["signal"] = {
            "strategy": sig.strategy,
            "direction": sig.direction.value,
            "strength": str(sig.strength),
            "price": str(sig.price),
            "features": {k: str(v) for k, v in sorted(sig.features.items())},
        }
    if ctx.position is not None:
        p = ctx.position
        doc["position"] = {
            "position_id": p.position_id,
            "side": p.side.value,
            "quantity": str(p.quantity),
            "entry_price": str(p.entry_price),
            "stop_loss": str(p.stop_loss) if p.stop_loss is not None else None,
            "take_profits": [
                {"price": str(t.price), "fraction": str(t.fraction)} for t in p.take_profits
            ],
            "pnl_pct": f"{p.pnl_pct(ctx.price):.4f}",
            "minutes_in_trade": int((ctx.as_of - p.opened_at).total_seconds() // 60),
            "trailing": p.trailing,
        }
    return doc
