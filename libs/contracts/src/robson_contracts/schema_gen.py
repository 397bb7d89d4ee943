"""Generate JSON Schemas and an AsyncAPI 3 document from the models.

Run ``python -m robson_contracts.schema_gen`` (or ``make schemas``) after changing a contract;
a test fails while the committed files are stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from robson_contracts import subjects
from robson_contracts.registry import MESSAGE_TYPES

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"

# Channel address templates per message type, for the AsyncAPI document.
CHANNELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "market.tick": ("robson.market.tick.{symbol}", ("TradeTick",)),
    "market.candle": ("robson.market.candle.{symbol}.{timeframe}", ("Candle",)),
    "market.context": ("robson.market.context.{symbol}", ("MarketContext",)),
    "account.balance": ("robson.account.balance.{account}", ("BalanceSnapshot",)),
    "account.evt": ("robson.account.evt.{account}", ("AccountModeChanged", "ReconciliationCompleted",
                                                     "VenueStatusChanged")),
    "signal.detected": ("robson.signal.detected.{account}.{symbol}", ("SignalDetected",)),
    "decision.made": ("robson.decision.made.{account}.{symbol}", ("TradeDecision",)),
    "decision.pending": ("robson.decision.pending.{account}.{symbol}", ("DecisionAwaitingApproval",)),
    "gate.decision": ("robson.gate.decision.{account}.{symbol}", ("GateDecision",)),
    "gate.risk": ("robson.gate.risk.{account}", ("RiskLimitBreached", "RiskLockoutEnded")),
    "position.cmd": (
        "robson.position.cmd.{account}",
        ("ClosePosition", "CloseAllPositions", "ModifyPosition"),
    ),
    "position.evt": (
        "robson.position.evt.{account}.{symbol}",
        (
            "PositionOpened",
            "PositionModified",
            "PositionModificationRejected",
            "PositionPartiallyClosed",
            "PositionClosed",
            "PositionEntryFailed",
            "PositionError",
        ),
    ),
    "position.trader": ("robson.position.trader.{account}", ("TraderStatusChanged",)),
    "order.cmd": (
        "robson.order.cmd.{venue}.{account}.{symbol}",
        ("SubmitOrder", "SubmitOcoOrder", "SubmitBracketOrder", "CancelOrder", "ReplaceOrder"),
    ),
    "order.evt": (
        "robson.order.evt.{account}.{symbol}",
        (
            "OrderAccepted",
            "OrderRejected",
            "OrderPartiallyFilled",
            "OrderFilled",
            "OrderCanceled",
            "OrderExpired",
            "OrderReplaced",
        ),
    ),
    "venue.rules": ("robson.venue.rules.{venue}.{symbol}", ("SymbolRules",)),
    "dlq": ("robson.dlq.{service}.{consumer}", ("DeadLetter",)),
}


def json_schemas() -> dict[str, dict[str, Any]]:
    return {name: cls.model_json_schema(mode="serialization") for name, cls in sorted(MESSAGE_TYPES.items())}


def asyncapi() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for key, (address, types) in CHANNELS.items():
        params = {p.split("}")[0]: {} for p in address.split("{")[1:]}
        channel_id = key.replace(".", "_")
        channels[channel_id] = {
            "address": address,
            "parameters": params,
            "messages": {t: {"$ref": f"#/components/messages/{t}"} for t in types},
        }
        operations[f"publish_{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
        }
    messages = {
        name: {
            "name": name,
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {
                    "Nats-Msg-Id": {"type": "string", "description": "= message_id"},
                    "Robson-Type": {"type": "string", "const": name},
                },
            },
            "payload": {"$ref": f"./{name}.schema.json"},
        }
        for name in sorted(MESSAGE_TYPES)
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Robson message bus",
            "version": "1.0.0",
            "description": "NATS JetStream subjects of the Robson trading platform. Streams: "
            + ", ".join(f"{s.name} ({', '.join(s.subjects)})" for s in subjects.STREAMS),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def rendered() -> dict[str, str]:
    files = {f"{name}.schema.json": _dump(schema) for name, schema in json_schemas().items()}
    files["asyncapi.json"] = _dump(asyncapi())
    return files


def _dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.json"):
        stale.unlink()
    written = []
    for name, text in rendered().items():
        path = directory / name
        path.write_text(text)
        written.append(path)
    return written


if __name__ == "__main__":
    paths = write()
    sys.stdout.write(f"wrote {len(paths)} files to {SCHEMA_DIR}\n")
