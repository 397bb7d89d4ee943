"""Durable consumers of paper."""

from __future__ import annotations

from robson_kit.consumer import ConsumerSpec


def consumer_specs() -> list[ConsumerSpec]:
    return []
