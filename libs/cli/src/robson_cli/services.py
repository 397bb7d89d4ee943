"""The services the launcher runs, each as its own process."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceDef:
    name: str
    default_port: int

    @property
    def module(self) -> str:
        return f"robson_{self.name}"

    @property
    def env_prefix(self) -> str:
        return f"ROBSON_{self.name.upper()}_"


SERVICES: tuple[ServiceDef, ...] = (
    ServiceDef("notify", 8107),
    ServiceDef("paper", 8106),
    ServiceDef("execution", 8105),
    ServiceDef("position", 8104),
    ServiceDef("entry_gate", 8103),
    ServiceDef("decision", 8102),
    ServiceDef("signal", 8101),
    ServiceDef("dashboard", 8108),
)
"""Start order: venues first, the feed last, so nothing publishes into a service not yet up;
then the dashboard (the web UI), which reads the others' APIs."""


def by_name(name: str) -> ServiceDef:
    for svc in SERVICES:
        if svc.name == name:
            return svc
    raise KeyError(f"unknown service {name!r}; known: {', '.join(s.name for s in SERVICES)}")
