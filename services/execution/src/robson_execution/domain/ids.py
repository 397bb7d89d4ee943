"""Deterministic Binance client order ids: a retry or a redelivery carries the same id, so
the exchange (and our query before any retry) recognises it."""

from __future__ import annotations

import re
import uuid

from robson_contracts import derive_id

_BINANCE_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
PREFIX = "rb"


def client_order_id(command_message_id: uuid.UUID | str, *parts: object) -> str:
    """``rb`` + 32 hex chars of a uuid5 of the command's message id (and the leg): 34 chars."""
    return PREFIX + derive_id("client-order-id", command_message_id, *parts).hex


def is_valid_client_order_id(value: str) -> bool:
    return bool(_BINANCE_ID.match(value))


def is_ours(client_order_id_: str) -> bool:
    return client_order_id_.startswith(PREFIX) and len(client_order_id_) == 34
