"""The message base: immutable, strict, traceable."""

from __future__ import annotations

import uuid
from hashlib import sha1
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from robson_contracts.types import Identifier, UtcDatetime

ROBSON_NAMESPACE = uuid.UUID("7d3f6a5e-2b1c-4c7e-9a51-52b0b5a0c0de")


_NAMESPACE_HASH = sha1(ROBSON_NAMESPACE.bytes)
_VERSION_5 = (~(0xC000 << 48) & ~(0xF000 << 64)) & ((1 << 128) - 1)
_RFC_4122_V5 = (0x8000 << 48) | (5 << 76)
_new = object.__new__
_set = object.__setattr__
_UNKNOWN_SAFETY = uuid.SafeUUID.unknown


def derive_id(*parts: object) -> uuid.UUID:
    """A deterministic id from its causes, so a replay produces byte-identical messages.

    ``uuid.uuid5(ROBSON_NAMESPACE, "/".join(parts))``, computed without its per-call import,
    namespace hashing and argument checks (the UUID is set up as ``UUID(int=…)`` would, once
    its value is known to be in range): every message of a replay or backtest derives one or
    more of these."""
    digest = _NAMESPACE_HASH.copy()
    digest.update("/".join(map(str, parts)).encode())
    value = (int.from_bytes(digest.digest()[:16], "big") & _VERSION_5) | _RFC_4122_V5
    derived = _new(uuid.UUID)
    _set(derived, "int", value)
    _set(derived, "is_safe", _UNKNOWN_SAFETY)
    return derived


class Model(BaseModel):
    """Immutable value object; unknown fields are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


class Message(Model):
    """Every message on the bus.

    ``message_id`` is the JetStream ``Nats-Msg-Id`` and the consumers' inbox key.
    ``occurred_at`` is event time: logic runs on it, never on the wall clock.
    """

    SCHEMA_VERSION: ClassVar[int] = 1

    message_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None = None
    occurred_at: UtcDatetime
    schema_version: int = 1
    tenant_id: Identifier = "default"

    @model_validator(mode="before")
    @classmethod
    def _root_of_its_own_correlation(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("correlation_id") is None:
            data = dict(data)
            data.setdefault("message_id", uuid.uuid4())
            if data["message_id"] is None:
                data["message_id"] = uuid.uuid4()
            data["correlation_id"] = data["message_id"]
        return data

    @field_validator("schema_version")
    @classmethod
    def _known_schema_version(cls, value: int) -> int:
        if value != cls.SCHEMA_VERSION:
            raise ValueError(
                f"schema_version {value} is not supported by {cls.__name__} "
                f"(this build speaks {cls.SCHEMA_VERSION})"
            )
        return value

    def caused(self, **fields: object) -> dict[str, object]:
        """Tracing fields for a message caused by this one (use as ``**self.caused()``)."""
        return {
            "correlation_id": self.correlation_id,
            "causation_id": self.message_id,
            "tenant_id": self.tenant_id,
            **fields,
        }


class AccountMessage(Message):
    """A message that belongs to one trading account."""

    account_id: Identifier
