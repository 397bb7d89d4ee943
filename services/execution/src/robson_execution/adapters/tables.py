"""Tables of the execution schema (the inbox and outbox come from robson_kit)."""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
