"""The paper service typed by what its hooks and routes use: the runtime."""

from __future__ import annotations

from robson_kit.service import Service

from robson_paper.runtime import Runtime

PaperService = Service[Runtime]
