"""Facts about hosts: what discovery reads, or what the inventory declares until then.

The planner takes facts as input so that planning stays pure: the same inventory,
catalog, facts and options always give the same plan (and the same plan hash).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from stackstep.model.catalog import Family
from stackstep.model.inventory import InitSystem, PackageManager

FactsSource = Literal["inventory", "discovery"]


@dataclass(frozen=True)
class HostFacts:
    name: str
    family: Family
    package_manager: PackageManager
    init: InitSystem
    components: tuple[str, ...]  # "service:component" present on the host, e.g. nova:compute
    versions: Mapping[str, str] = field(default_factory=dict)

    def runs(self, service: str) -> bool:
        return any(c.split(":", 1)[0] == service for c in self.components)


@dataclass(frozen=True)
class Facts:
    hosts: tuple[HostFacts, ...]
    source: FactsSource = "inventory"

    def host(self, name: str) -> HostFacts | None:
        return next((h for h in self.hosts if h.name == name), None)


def facts_to_json(facts: Facts) -> dict[str, object]:
    return {
        "source": facts.source,
        "hosts": [
            {
                "name": h.name,
                "family": h.family,
                "package_manager": h.package_manager,
                "init": h.init,
                "components": list(h.components),
                "versions": dict(h.versions),
            }
            for h in facts.hosts
        ],
    }


def facts_from_json(data: dict[str, object]) -> Facts:
    hosts = data.get("hosts")
    out = []
    for h in hosts if isinstance(hosts, list) else []:
        out.append(
            HostFacts(
                str(h["name"]),
                h["family"],
                h["package_manager"],
                h["init"],
                tuple(h["components"]),
                dict(h.get("versions", {})),
            )
        )
    source: FactsSource = "discovery" if data.get("source") == "discovery" else "inventory"
    return Facts(tuple(out), source)
